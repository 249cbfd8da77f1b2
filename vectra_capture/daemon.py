"""The capture daemon: one session, one frame source, every frame landed, reconnecting forever.

Threads: the asyncio loop runs the frame source (the socket client, `socket_source.py`, or the
player's browser through CDP, `cdp/source.py`), which decodes each WebSocket message with
`frames.FrameDecoder` and hands the items to `on_frame`; the daemon stamps them (time, seq) before
any await. The writer thread owns the disk. Lifecycle (connect, disconnect, reconnect attempts,
connect errors, browser and socket events, spool recovery, disk full, watchdog alarms) lands as
system_event rows in the same spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES, Control, Decoded, Quarantined, envelope_ids
from vectra_capture.live_state import LiveState
from vectra_capture.socket_source import SocketSource
from vectra_capture.store import FileLock, RawSink, recover_spool, storage_problem
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.lease import CAPTURE_WRITER, Lease
from vectra_capture.urls import check_capture_url, redact_url
from vectra_capture.writer import DEFAULT_MAX_BUFFER_BYTES, StorageFailed, WriterThread

log = logging.getLogger(__name__)

LIVE_URL = "https://backend.rugs.fun?frontend-version=1.0"
LIVE_HEADERS = {"Origin": "https://rugs.fun"}
RECOVERY_RETRY_MAX = 10.0  # spool recovery on a full disk retries at least this often


class FrameSource(Protocol):
    """Where frames come from. `run` decodes every WebSocket message with `frames.FrameDecoder` (one
    per socket and direction) and calls `daemon.on_frame(item, direction, ts_us=..., socket_id=...)`
    for each item (never awaiting in between, so seq follows arrival), records its lifecycle with
    `daemon.system_event`, keeps `daemon.state` current, and returns once `daemon.stop_requested`."""

    name: str  # the envelope's `source`

    async def run(self, daemon: CaptureDaemon) -> None: ...

    def status(self) -> dict[str, Any]: ...  # merged into the status file

    def connect_details(self, socket_id: str | None) -> dict[str, Any]: ...  # for the `connect` system_event


@dataclass
class CaptureConfig:
    url: str
    data_dir: DataPaths
    source: str = "public_ws"
    headers: dict[str, str] = field(default_factory=dict)
    transports: list[str] = field(default_factory=lambda: ["websocket"])
    flush_interval: float = 1.0
    flush_every: int = 100
    roll_seconds: float = 900.0
    watchdog_seconds: float = 30.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    connect_timeout: float = 10.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES  # memory for records while the disk is full
    retry_interval: float = 1.0  # how often an unwritable spool is retried
    stop_grace: float = 10.0  # at stop, how long to wait for a full disk before giving up


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts else None


class CaptureFailed(RuntimeError):
    pass


class CaptureDaemon:
    def __init__(self, config: CaptureConfig, source: FrameSource | None = None) -> None:
        self.config = config
        self.paths = config.data_dir
        self.source: FrameSource = source or SocketSource(config)
        self.session_id = str(uuid.uuid4())
        self.live = LiveState()
        self.received = 0
        self.sent = 0
        self.control: Counter[str] = Counter()  # Engine.IO / Socket.IO control packets, by kind
        self.reconnects = 0
        self.state = "starting"
        self.connected_since: float | None = None
        self.started_at = time.time()
        self._seq = 0
        self._last_game_update = time.monotonic()
        self._alarmed = False
        self._stop = asyncio.Event()
        self._recovery_stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.recovery: dict[str, Any] = {"state": "pending"}
        self.writer: WriterThread | None = None

    # -- recording (event loop thread; never awaits, never touches the disk) -------------------
    def _new_record(self, doc_type: str, raw: bytes, ts_us: int | None = None, **fields: Any) -> RawRecord:
        self._seq += 1
        return RawRecord(
            doc_type, time.time_ns() // 1000 if ts_us is None else ts_us, self._seq, self.source.name,
            self.session_id, raw, **fields
        )

    def _record(self, doc_type: str, raw: bytes, ts_us: int | None = None, **fields: Any) -> None:
        assert self.writer is not None
        self.writer.put(self._new_record(doc_type, raw, ts_us, **fields))

    def _system_record(self, name: str, details: dict[str, Any]) -> RawRecord:
        log.info("system event %s %s", name, details or "")
        return self._new_record("system_event", json.dumps(details, default=str).encode(), event_name=name)

    def system_event(self, name: str, **details: Any) -> None:
        assert self.writer is not None
        self.writer.put(self._system_record(name, details))

    def _post_event(self, name: str, details: dict[str, Any]) -> None:
        """From the writer thread: recorded on the loop, so seq stays in arrival order."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(functools.partial(self.system_event, name, **details))

    def on_frame(self, item: Decoded, direction: str, *, ts_us: int | None = None,
                 socket_id: str | None = None) -> None:
        """Called by the frame source for every item `frames.FrameDecoder` decodes from a WebSocket
        message: a Frame becomes a ws_event row, a Control packet is counted, a Quarantined one
        lands in quarantine. ts_us: when the frame was received or sent (default: now); socket_id:
        which socket carried it (the browser's CDP request id; None for the socket client).
        Never raises: whatever goes wrong, the frame is quarantined with the reason."""
        try:
            self._on_frame(item, direction, ts_us, socket_id)
        except Exception as exc:
            log.exception("frame could not be captured; quarantining it")
            raw = getattr(item, "raw", None)
            if raw is None:
                raw = getattr(item, "json_text", None) or getattr(item, "text", "")
            self._quarantine(raw, direction, f"capture error: {type(exc).__name__}: {exc}", ts_us, socket_id)

    def _count(self, direction: str) -> None:
        if direction == "sent":
            self.sent += 1
        else:
            self.received += 1

    def _quarantine(self, data: Any, direction: str, reason: str, ts_us: int | None = None,
                    socket_id: str | None = None) -> None:
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
        self._count(direction)
        origin = f"socket:{direction}" + (f":{socket_id}" if socket_id else "")
        self._record(QUARANTINE, raw, ts_us, direction=direction, origin_file=origin, reason=reason)

    def _on_frame(self, item: Decoded, direction: str, ts_us: int | None, socket_id: str | None) -> None:
        if isinstance(item, Quarantined):
            self._quarantine(item.raw, direction, item.reason, ts_us, socket_id)
            return
        if isinstance(item, Control):
            self.control[item.kind] += 1
            if item.kind == "connect" and direction == "received" and item.text[2:3] in ("", "{"):
                self._connected(socket_id)  # the default namespace's CONNECT: recorded here, in wire order
            return
        self._count(direction)
        payload = item.payload
        game_id, player_id, username = envelope_ids(payload)
        self._record(
            "ws_event", item.json_text.encode("utf-8", "surrogatepass"), ts_us, direction=direction,
            event_name=item.event_name, game_id=game_id, player_id=player_id, username=username,
            namespace=item.namespace, ack_id=item.ack_id, socket_id=socket_id,
        )
        if item.event_name == "gameStateUpdate":
            self.game_update_seen()
        try:  # the frame is recorded already: a surprise here must not quarantine it a second time
            when = ts_us / 1e6 if ts_us is not None else time.time()
            self.live.observe(item.event_name, payload, when, json_text=item.json_text, socket_id=socket_id)
        except Exception:
            log.exception("live state could not follow %s", item.event_name)

    def _connected(self, socket_id: str | None) -> None:
        self.state = "connected"
        if self.connected_since is None:
            self.connected_since = time.time()
        self.game_update_seen()
        self.system_event("connect", **self.source.connect_details(socket_id))

    def game_update_seen(self) -> None:
        """The watchdog's silence starts again (a gameStateUpdate, or a new connection)."""
        self._last_game_update = time.monotonic()
        self._alarmed = False

    # -- status (read by the writer thread once a second) ------------------------------------
    def status(self) -> dict[str, Any]:
        w = self.writer
        sink = w.sink if w else None
        return {
            "pid": os.getpid(),
            "session_id": self.session_id,
            "data_dir": self.paths.location,
            "url": redact_url(self.config.url),
            "source": self.source.name,
            "state": self.state,
            "started_at": _iso(self.started_at),
            "connected_since": _iso(self.connected_since),
            "reconnects": self.reconnects,
            "received": self.received,
            "sent": self.sent,
            "frames": {"received": self.received, "sent": self.sent},
            "control_packets": dict(self.control),
            "written": w.durable["ws_event"] if w else 0,
            "quarantined": w.durable[QUARANTINE] if w else 0,
            "system_events": w.durable["system_event"] if w else 0,
            "in_parquet": sink.in_parquet if sink else 0,
            "spool_depth": sink.spool_depth if sink else 0,
            "segments_compacting": sink.compacting if sink else 0,
            "queue_depth": w.queue_depth if w else 0,
            "last_flush": _iso(sink.last_sync) if sink else None,
            "last_roll": _iso(sink.last_roll) if sink else None,
            "lag_seconds": w.lag_seconds() if w else 0.0,
            **(w.storage_status() if w else {"storage_state": "starting"}),
            "recovery": dict(self.recovery),
            "live": self.live.to_dict(),
            "updated_at": _iso(time.time()),
            "stopped_at": _iso(time.time()) if self.state == "stopped" else None,
            **self.source.status(),
        }

    # -- lifecycle --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    async def wait_stop(self) -> None:
        await self._stop.wait()

    async def stopped_within(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as a stop is requested."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()

    async def run(self) -> dict[str, Any]:
        try:
            check_capture_url(self.config.url)
        except ValueError as exc:
            raise CaptureFailed(str(exc)) from None
        self._loop = asyncio.get_running_loop()
        self._install_signal_handlers()  # first: a SIGTERM during start-up or recovery stops cleanly
        lock = FileLock(self.paths.capture_lock).acquire()  # one daemon per data root (this host)
        try:
            lease = Lease(self.paths, CAPTURE_WRITER).acquire()  # ... and per object root (any host)
        except BaseException:
            lock.release()
            raise
        try:
            sink = RawSink(self.paths, self.session_id, roll_seconds=self.config.roll_seconds)
            self.writer = WriterThread(
                sink, self.config.flush_interval, self.config.flush_every, status=self.status,
                max_buffer_bytes=self.config.max_buffer_bytes, retry_interval=self.config.retry_interval,
                stop_grace=self.config.stop_grace, post_event=self._post_event, make_event=self._system_record,
            )
            self.writer.start()
            self.system_event("session_start", url=redact_url(self.config.url), source=self.source.name,
                              pid=os.getpid())
            # Connect at once; what a previous run left in the spool is compacted meanwhile.
            recovery = asyncio.create_task(self._recover_spool())
            watchdog = asyncio.create_task(self._watchdog())
            try:
                await self.source.run(self)
            finally:
                watchdog.cancel()
                self._recovery_stop.set()  # stops between batches; the rest waits for the next start
                await recovery
                self.state = "stopped"
                self.system_event("session_end", received=self.received, sent=self.sent)
                # The final status stays (`vectra status` shows it as the last one): its blocks are
                # then there to be overwritten in place if the next start meets a full disk.
                await asyncio.to_thread(self.writer.stop)
            error = self.writer.error
            if isinstance(error, StorageFailed):
                raise CaptureFailed(str(error)) from error
            if error is not None:
                raise CaptureFailed(f"the writer failed: {error!r}; what was fsynced is in the spool and is "
                                    "recovered on the next start") from error
            return self.status()
        finally:
            lease.release()
            lock.release()

    async def _recover_spool(self) -> None:
        """Compact segments a previous run left behind, in a thread, in bounded batches. On a full
        disk (or any OSError) wait and retry: never crash, never block capturing."""
        delay = self.config.retry_interval
        self.recovery = {"state": "running"}
        while True:
            try:
                res = await asyncio.to_thread(recover_spool, self.paths, self.session_id, self._recovery_stop.is_set)
            except OSError as exc:
                problem = storage_problem(exc, self.paths.root) or f"{type(exc).__name__}: {exc}"
                if self.recovery.get("state") != "waiting":
                    log.error("spool recovery cannot write (%s): retrying", problem)
                    self.system_event("spool_recovery_waiting", error=problem)
                self.recovery = {"state": "waiting", "error": problem, "retry_seconds": delay}
                if self._recovery_stop.is_set() or await self.stopped_within(delay):
                    self.recovery = {"state": "stopped before done", "error": problem}
                    return
                delay = min(RECOVERY_RETRY_MAX, delay * 2)
                continue
            except Exception as exc:  # a bug: say so, keep capturing; the segments stay for the next start
                log.exception("spool recovery failed")
                self.recovery = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
                self.system_event("spool_recovery_failed", error=self.recovery["error"])
                return
            self.recovery = {"state": "done" if res.complete else "interrupted", "records": res.records,
                             "quarantined": res.quarantined, "segments": res.segments}
            if res.records or res.quarantined or not res.complete:
                self.system_event("spool_recovered", records=res.records, quarantined=res.quarantined,
                                  segments=res.segments, complete=res.complete)
            return

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)

    async def _watchdog(self) -> None:
        """Alarm once per silence when the socket is up but no gameStateUpdate arrives."""
        while True:
            await asyncio.sleep(min(1.0, self.config.watchdog_seconds / 4))
            if self.writer and self.writer.error:
                log.error("writer failed (%s): stopping so nothing more is accepted", self.writer.error)
                self.request_stop()
            silent = time.monotonic() - self._last_game_update
            if self.state == "connected" and not self._alarmed and silent >= self.config.watchdog_seconds:
                self._alarmed = True
                self.system_event("watchdog_alarm", silent_seconds=round(silent, 1))


def run_daemon(config: CaptureConfig, source: FrameSource | None = None) -> dict[str, Any]:
    return asyncio.run(CaptureDaemon(config, source).run())
