"""The writer thread: the only place the capture path touches the disk.

The socket's event loop hands records over through a lock-free SimpleQueue and never waits
on I/O. Here they are appended to the spool, fsynced at least every `flush_interval` seconds
or `flush_every` records, rolled into Parquet when due, and the status file is refreshed.

When the spool cannot be written (a full disk, or another OSError) nothing is lost and nothing
stops: records keep arriving into the open segment's memory buffer, the write is retried every
`retry_interval`, the status says `disk_full` with the bytes buffered, and `disk_full` /
`storage_recovered` system events land once space is back. Only when the buffer reaches
`max_buffer_bytes` are new records dropped, counted, and reported by a `records_dropped` event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vectra_capture.store import RawSink, is_disk_full, write_status_file
from vectra_capture.store.envelope import RawRecord

log = logging.getLogger(__name__)

_STOP = object()
DEFAULT_MAX_BUFFER_BYTES = 256 << 20
WRITE_AHEAD_BYTES = 1 << 20  # hand the kernel this much between fsyncs, as a 1 MB file buffer would
ROLL_RETRY_SECONDS = 10.0

# (event name, details) posted to the daemon, which records it as a system_event in order.
EventPoster = Callable[[str, dict[str, Any]], None]
# (event name, details) -> a finished record; used only once the daemon has stopped recording.
EventMaker = Callable[[str, dict[str, Any]], RawRecord]


class StorageFailed(RuntimeError):
    pass


@dataclass
class StorageHealth:
    """One episode of an unwritable spool (state "ok" when there is none)."""

    state: str = "ok"  # ok | disk_full | write_error
    error: str | None = None
    since: float | None = None  # wall clock
    peak_buffered: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    first_dropped_seq: int | None = None
    last_dropped_seq: int | None = None


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts else None


class WriterThread(threading.Thread):
    def __init__(
        self,
        sink: RawSink,
        flush_interval: float = 1.0,
        flush_every: int = 100,
        status: Callable[[], dict[str, Any]] | None = None,
        status_interval: float = 1.0,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
        retry_interval: float = 1.0,
        stop_grace: float = 10.0,
        post_event: EventPoster | None = None,
        make_event: EventMaker | None = None,
    ) -> None:
        super().__init__(name="vectra-writer", daemon=True)
        self.sink = sink
        self.flush_interval = flush_interval
        self.flush_every = flush_every
        self.status = status
        self.status_interval = status_interval
        self.max_buffer_bytes = max_buffer_bytes
        self.retry_interval = retry_interval
        self.stop_grace = stop_grace
        self.post_event = post_event
        self.make_event = make_event
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.appended: Counter[str] = Counter()
        self.durable: Counter[str] = Counter()  # per doc_type, fsynced
        self._oldest_pending: float | None = None
        self.health = StorageHealth()
        self.dropped_total = 0  # over the whole session
        self.lost = 0  # records never made durable because the disk stayed full through the stop
        self._finishing = False
        self._status_error: str | None = None
        self.error: BaseException | None = None

    # -- called from the event loop thread -------------------------------------------------
    def put(self, rec: RawRecord) -> None:
        self._queue.put_nowait(rec)

    def stop(self, timeout: float | None = None) -> None:
        self._queue.put_nowait(_STOP)
        self.join(timeout)

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def failing(self) -> bool:
        return self.health.state != "ok"

    def lag_seconds(self) -> float:
        """Age of the oldest record not yet durable (0 when everything is fsynced)."""
        oldest = self._oldest_pending
        return round(time.monotonic() - oldest, 3) if oldest is not None else 0.0

    def storage_status(self) -> dict[str, Any]:
        h, sink = self.health, self.sink
        return {
            "storage_state": h.state,
            "storage_error": h.error,
            "storage_since": _iso(h.since),
            "buffered_bytes": sink.buffered_bytes,
            "buffer_limit_bytes": self.max_buffer_bytes,
            "dropped": self.dropped_total + sum(h.dropped.values()),
            "lost_at_stop": self.lost,
            "roll_failures": sink.roll_failures,
            "rolls_waiting": sink.rolls_waiting,
            "last_roll_error": sink.last_roll_error,
        }

    # -- the thread ---------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the daemon; the spool keeps what was synced
            self.error = exc
            log.exception("writer thread failed")
            self._write_status()

    def _loop(self) -> None:
        now = time.monotonic()
        next_flush = now + self.flush_interval
        next_status = now
        next_roll_retry = now + ROLL_RETRY_SECONDS
        while True:
            timeout = max(0.0, min(next_flush, next_status) - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._finish()
                return
            if item is not None:
                self._accept(item)
            now = time.monotonic()
            if now >= next_flush:
                if self._sync():
                    if self.sink.roll_due():
                        self._roll()
                    if now >= next_roll_retry and self.sink.rolls_waiting:
                        self.sink.retry_failed_rolls()
                        next_roll_retry = now + ROLL_RETRY_SECONDS
                next_flush = now + (self.retry_interval if self.failing else self.flush_interval)
            if now >= next_status:
                self._write_status()
                next_status = now + self.status_interval

    def _accept(self, rec: RawRecord) -> None:
        # While failing the buffer is bounded; system events are tiny and say what happened: always in.
        if self.failing and rec.doc_type != "system_event" and (
            self.sink.buffered_bytes + len(rec.raw) > self.max_buffer_bytes
        ):
            self._drop(rec)
            return
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        self.sink.append(rec)
        self.appended[rec.doc_type] += 1
        if self.failing:
            self.health.peak_buffered = max(self.health.peak_buffered, self.sink.buffered_bytes)
        elif self.sink.pending >= self.flush_every:
            self._sync()
        elif self.sink.unwritten >= WRITE_AHEAD_BYTES:
            try:
                self.sink.write_out()
            except OSError as exc:
                self._failed(exc)

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._accept(item)

    def _sync(self) -> bool:
        try:
            self.sink.sync()
        except OSError as exc:
            self._failed(exc)
            return False
        self.durable = self.appended.copy()
        self._oldest_pending = None
        if self.failing:
            self._recovered()
        return True

    def _roll(self) -> None:
        try:
            self.sink.roll()
        except OSError as exc:
            self._failed(exc)

    # -- an unwritable spool ------------------------------------------------------------------
    def _failed(self, exc: OSError) -> None:
        error = f"{type(exc).__name__}: {exc.strerror or exc}"
        if self.failing:
            self.health.error = error
            return
        state = "disk_full" if is_disk_full(exc) else "write_error"
        self.health = StorageHealth(state, error, time.time(), self.sink.buffered_bytes)
        log.error("cannot write the spool (%s): keeping records in memory (up to %.1f MB) and retrying every %.1f s",
                  error, self.max_buffer_bytes / 1e6, self.retry_interval)
        self._event(state, {"error": error, "buffer_limit_bytes": self.max_buffer_bytes})

    def _drop(self, rec: RawRecord) -> None:
        h = self.health
        if not h.dropped:
            log.error("memory buffer full (%d bytes) while the spool cannot be written: dropping records "
                      "(counted) until space is back", self.max_buffer_bytes)
        h.dropped[rec.doc_type] += 1
        if h.first_dropped_seq is None:
            h.first_dropped_seq = rec.seq
        h.last_dropped_seq = rec.seq

    def _recovered(self) -> None:
        h = self.health
        seconds = round(time.time() - (h.since or time.time()), 1)
        dropped = sum(h.dropped.values())
        self.dropped_total += dropped
        self.health = StorageHealth()
        log.warning("the spool is writable again after %.1f s (%s); %d records dropped meanwhile",
                    seconds, h.state, dropped)
        self._event("storage_recovered", {
            "state": h.state, "error": h.error, "since": _iso(h.since), "seconds": seconds,
            "peak_buffered_bytes": h.peak_buffered, "dropped": dropped,
        })
        if dropped:
            self._event("records_dropped", {
                "count": dropped, "by_doc_type": dict(h.dropped), "first_seq": h.first_dropped_seq,
                "last_seq": h.last_dropped_seq,
                "reason": f"the memory buffer ({self.max_buffer_bytes} bytes) was full while the spool "
                          f"could not be written ({h.state}: {h.error})",
            })
        self.sink.retry_failed_rolls()

    def _event(self, name: str, details: dict[str, Any]) -> None:
        if self._finishing and self.make_event is not None:
            # The daemon records nothing more: append directly, keeping seq order.
            self._accept(self.make_event(name, details))
        elif self.post_event is not None:
            self.post_event(name, details)

    # -- stopping -------------------------------------------------------------------------------
    def _finish(self) -> None:
        self._finishing = True
        self._drain()
        deadline = time.monotonic() + self.stop_grace
        while not self._sync() and time.monotonic() < deadline:
            self._write_status()
            time.sleep(min(self.retry_interval, max(0.0, deadline - time.monotonic())))
        if self.failing or not self._sync():  # _sync again: events added by _recovered
            self.lost = self.sink.abandon()
            self._write_status()
            raise StorageFailed(
                f"{self.lost} records ({self.sink.buffered_bytes} bytes) could not be written before stopping "
                f"({self.health.error}); what was fsynced is in the spool and is recovered on the next start")
        self.sink.close()
        self._write_status()

    def _write_status(self) -> None:
        if self.status is None:
            return
        try:
            write_status_file(self.sink.paths, self.sink.paths.capture_status.name, self.status())
            self._status_error = None
        except OSError as exc:
            if str(exc) != self._status_error:  # once per kind of failure, not every second
                log.error("could not write the status file: %s", exc)
            self._status_error = str(exc)
