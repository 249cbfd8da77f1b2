"""CDP timestamps -> UTC wall time.

Network events carry `timestamp`, the browser's monotonic clock in seconds (an arbitrary origin).
Some also carry `wallTime`, the browser's wall clock at the same instant (a socket's handshake
request, every HTTP request): one such pair maps every later timestamp exactly, in the browser's
own wall clock. Before a pair is seen (a socket opened before the capture attached) the offset is
bounded by arrival: an event cannot arrive before it happened, so `arrival - timestamp` only ever
overestimates the offset, by the delivery delay; the smallest value seen is the estimate.
"""

from __future__ import annotations

import time


class BrowserClock:
    """One per browser connection (a restarted browser has a new monotonic origin)."""

    def __init__(self) -> None:
        self.offset: float | None = None  # wall - monotonic, seconds
        self.calibrated = False  # True once a (timestamp, wallTime) pair was seen

    def pair(self, timestamp: float, wall_time: float) -> None:
        self.offset = wall_time - timestamp
        self.calibrated = True

    def wall_us(self, timestamp: float, arrived: float | None = None) -> int:
        """UTC microseconds of a CDP timestamp; `arrived` is the wall time the event was read."""
        arrived = time.time() if arrived is None else arrived
        if not self.calibrated:
            bound = arrived - timestamp
            self.offset = bound if self.offset is None else min(self.offset, bound)
        assert self.offset is not None
        return int(round((timestamp + self.offset) * 1_000_000))
