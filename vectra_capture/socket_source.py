"""The socket capture as a frame source: one python-socketio client at a time, reconnecting forever.

The daemon owns reconnects (python-socketio's are off) so each attempt, error and disconnect reason
lands as a system_event. Frames reach the daemon through CaptureClient's Engine.IO hook, stamped
with the receipt time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import socketio

from vectra_capture.client import CaptureClient

if TYPE_CHECKING:
    from vectra_capture.daemon import CaptureDaemon

STABLE_SECONDS = 30.0  # a connection that lasted this long resets the reconnect backoff


class SocketSource:
    """A frame source for CaptureDaemon (see daemon.FrameSource)."""

    def __init__(self, url: str, name: str = "public_ws", headers: dict[str, str] | None = None,
                 transports: list[str] | None = None, connect_timeout: float = 10.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0) -> None:
        self.url = url
        self.name = name
        self.headers = headers or {}
        self.transports = transports or ["websocket"]
        self.connect_timeout = connect_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._disconnected = asyncio.Event()

    def status(self) -> dict[str, Any]:
        return {}

    def _new_client(self, daemon: CaptureDaemon) -> CaptureClient:
        client = CaptureClient(daemon.on_frame)

        @client.event
        async def connect() -> None:
            daemon.state = "connected"
            daemon.connected_since = time.time()
            daemon.game_update_seen()
            daemon.system_event("connect", url=self.url, transport=client.transport(), sid=client.sid)

        @client.event
        async def disconnect(reason: str = "unknown") -> None:
            daemon.state = "disconnected"
            daemon.connected_since = None
            daemon.live.mark_stale()
            daemon.system_event("disconnect", reason=str(reason))
            self._disconnected.set()

        return client

    async def run(self, daemon: CaptureDaemon) -> None:
        attempt = 0
        while not daemon.stop_requested:
            if attempt:
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
                daemon.system_event("reconnect_attempt", attempt=attempt, delay_seconds=delay)
                if await daemon.stopped_within(delay):
                    return
                daemon.reconnects += 1
            client = self._new_client(daemon)
            self._disconnected.clear()
            daemon.state = "connecting"
            try:
                await client.connect(self.url, headers=self.headers, transports=self.transports,
                                     wait_timeout=self.connect_timeout)
            except (socketio.exceptions.ConnectionError, OSError, ValueError) as exc:
                daemon.state = "disconnected"
                daemon.system_event("connect_error", attempt=attempt, error=str(exc) or type(exc).__name__)
                attempt += 1
                await _quietly(client.disconnect())
                continue
            connected_at = time.monotonic()
            stop = asyncio.create_task(daemon.wait_stop())
            dropped = asyncio.create_task(self._disconnected.wait())
            await asyncio.wait({stop, dropped}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            dropped.cancel()
            if daemon.stop_requested:
                daemon.state = "stopping"
                await _quietly(client.disconnect())
                return
            await _quietly(client.disconnect())
            # Back off from a server that accepts and drops at once; start over after a stable link.
            attempt = 1 if time.monotonic() - connected_at >= STABLE_SECONDS else attempt + 1


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro
