"""The writer thread: the only place the capture path touches the disk.

The socket's event loop hands records over through a lock-free SimpleQueue and never waits
on I/O. Here they are appended to the spool, fsynced at least every `flush_interval` seconds
or `flush_every` records, rolled into Parquet when due, and the status file is refreshed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from vectra_capture.store import RawSink, write_run_file
from vectra_capture.store.envelope import RawRecord

log = logging.getLogger(__name__)

_STOP = object()


class WriterThread(threading.Thread):
    def __init__(
        self,
        sink: RawSink,
        flush_interval: float = 1.0,
        flush_every: int = 100,
        status: Callable[[], dict[str, Any]] | None = None,
        status_interval: float = 1.0,
    ) -> None:
        super().__init__(name="vectra-writer", daemon=True)
        self.sink = sink
        self.flush_interval = flush_interval
        self.flush_every = flush_every
        self.status = status
        self.status_interval = status_interval
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.appended: Counter[str] = Counter()
        self.durable: Counter[str] = Counter()  # per doc_type, fsynced
        self._oldest_pending: float | None = None
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

    def lag_seconds(self) -> float:
        """Age of the oldest record not yet durable (0 when everything is fsynced)."""
        oldest = self._oldest_pending
        return round(time.monotonic() - oldest, 3) if oldest is not None else 0.0

    # -- the thread ---------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # surfaced by the daemon; the spool keeps what was synced
            self.error = exc
            log.exception("writer thread failed")

    def _loop(self) -> None:
        next_flush = time.monotonic() + self.flush_interval
        next_status = time.monotonic()
        while True:
            timeout = max(0.0, min(next_flush, next_status) - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                item = None
            if item is _STOP:
                self._drain()
                self._sync()
                self.sink.close()
                self._write_status()
                return
            if item is not None:
                self._append(item)
                if self.sink.pending >= self.flush_every:
                    self._sync()
            now = time.monotonic()
            if now >= next_flush:
                self._sync()
                next_flush = now + self.flush_interval
                if self.sink.roll_due():
                    self.sink.roll()
            if now >= next_status:
                self._write_status()
                next_status = now + self.status_interval

    def _append(self, rec: RawRecord) -> None:
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        self.sink.append(rec)
        self.appended[rec.doc_type] += 1

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._append(item)

    def _sync(self) -> None:
        self.sink.sync()
        self.durable = self.appended.copy()
        self._oldest_pending = None

    def _write_status(self) -> None:
        if self.status is None:
            return
        try:
            write_run_file(self.sink.paths, self.sink.paths.capture_status.name, self.status())
        except OSError:
            log.exception("could not write the status file")
