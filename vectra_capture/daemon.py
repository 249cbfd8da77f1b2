"""The capture daemon: one session, one frame source, every frame landed, reconnecting forever.

Threads: the asyncio loop runs the frame source (the socket client, or the browser through CDP)
which hands each frame to `on_frame`; the daemon stamps it (time, seq) before any await; the
writer thread owns the disk. Lifecycle (connect, disconnect, reconnect attempts, connect errors,
browser and socket events, watchdog alarms) lands as system_event rows in the same spool.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES, FrameError, envelope_ids, parse_frame
from vectra_capture.live_state import LiveState
from vectra_capture.socket_source import SocketSource
from vectra_capture.store import FileLock, RawSink, recover_spool, remove_run_file
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.writer import WriterThread

log = logging.getLogger(__name__)

LIVE_URL = "https://backend.rugs.fun?frontend-version=1.0"
LIVE_HEADERS = {"Origin": "https://rugs.fun"}


class FrameSource(Protocol):
    """Where frames come from. `run` calls `daemon.on_frame(data, direction, ts_us=..., socket_id=...)`
    for every frame (never awaiting in between, so seq follows arrival), records its lifecycle with
    `daemon.system_event`, keeps `daemon.state` current, and returns once `daemon.stop_requested`."""

    name: str  # the envelope's `source`

    async def run(self, daemon: CaptureDaemon) -> None: ...

    def status(self) -> dict[str, Any]: ...  # merged into the status file


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


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts else None


class CaptureFailed(RuntimeError):
    pass


class CaptureDaemon:
    def __init__(self, config: CaptureConfig, source: FrameSource | None = None) -> None:
        self.config = config
        self.paths = config.data_dir
        self.source: FrameSource = source or SocketSource(
            config.url, config.source, config.headers, config.transports, config.connect_timeout,
            config.backoff_initial, config.backoff_max)
        self.session_id = str(uuid.uuid4())
        self.live = LiveState()
        self.received = 0
        self.sent = 0
        self.reconnects = 0
        self.state = "starting"
        self.connected_since: float | None = None
        self.started_at = time.time()
        self._seq = 0
        self._last_game_update = time.monotonic()
        self._alarmed = False
        self._stop = asyncio.Event()
        self.writer: WriterThread | None = None

    # -- recording (event loop thread; never awaits, never touches the disk) -------------------
    def _record(self, doc_type: str, raw: bytes, ts_us: int | None = None, **fields: Any) -> None:
        self._seq += 1
        rec = RawRecord(
            doc_type, time.time_ns() // 1000 if ts_us is None else ts_us, self._seq, self.source.name,
            self.session_id, raw, **fields
        )
        assert self.writer is not None
        self.writer.put(rec)

    def system_event(self, name: str, **details: Any) -> None:
        log.info("system event %s %s", name, details or "")
        self._record("system_event", json.dumps(details, default=str).encode(), event_name=name)

    def on_frame(self, data: Any, direction: str, *, ts_us: int | None = None, socket_id: str | None = None) -> bool:
        """Called by the frame source for every Socket.IO packet (text) or binary attachment.
        ts_us: when the frame was received or sent (default: now); socket_id: which socket carried it
        (the browser's CDP request id; None for the socket client). True = consumed (the socket
        client does not dispatch it). Never raises: whatever goes wrong, the frame is quarantined."""
        try:
            return self._on_frame(data, direction, ts_us, socket_id)
        except Exception as exc:
            log.exception("frame could not be captured; quarantining it")
            self._quarantine(data, direction, f"capture error: {type(exc).__name__}: {exc}", ts_us, socket_id)
            return True

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

    def _on_frame(self, data: Any, direction: str, ts_us: int | None, socket_id: str | None) -> bool:
        parsed = parse_frame(data, self.config.max_frame_bytes)
        if isinstance(parsed, FrameError):
            self._quarantine(data, direction, parsed.reason, ts_us, socket_id)
            return True
        if parsed.event_name is None:
            return False  # connect / disconnect / connect_error: python-socketio handles them
        self._count(direction)
        payload = parsed.payload
        game_id, player_id, username = envelope_ids(payload)
        self._record(
            "ws_event", parsed.json_text.encode("utf-8", "surrogatepass"), ts_us, direction=direction,
            event_name=parsed.event_name, game_id=game_id, player_id=player_id, username=username,
            namespace=parsed.namespace, ack_id=parsed.ack_id, socket_id=socket_id,
        )
        if parsed.event_name == "gameStateUpdate":
            self.game_update_seen()
        try:  # the frame is recorded already: a surprise here must not quarantine it a second time
            when = ts_us / 1e6 if ts_us is not None else time.time()
            self.live.observe(parsed.event_name, payload, when, json_text=parsed.json_text, socket_id=socket_id)
        except Exception:
            log.exception("live state could not follow %s", parsed.event_name)
        return parsed.packet_type == "event"  # acks still go to python-socketio for callbacks

    def game_update_seen(self) -> None:
        self._last_game_update = time.monotonic()
        self._alarmed = False

    # -- status (read by the writer thread once a second) ------------------------------------
    def status(self) -> dict[str, Any]:
        w = self.writer
        sink = w.sink if w else None
        return {
            "pid": os.getpid(),
            "session_id": self.session_id,
            "data_dir": str(self.paths.root),
            "url": self.config.url,
            "source": self.source.name,
            "state": self.state,
            "started_at": _iso(self.started_at),
            "connected_since": _iso(self.connected_since),
            "reconnects": self.reconnects,
            "received": self.received,
            "sent": self.sent,
            "frames": {"received": self.received, "sent": self.sent},
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
            "live": self.live.to_dict(),
            "updated_at": _iso(time.time()),
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
        lock = FileLock(self.paths.capture_lock).acquire()  # one daemon per data root
        try:
            recovered = await asyncio.to_thread(recover_spool, self.paths, self.session_id)
            sink = RawSink(self.paths, self.session_id, roll_seconds=self.config.roll_seconds)
            self.writer = WriterThread(
                sink, self.config.flush_interval, self.config.flush_every, status=self.status
            )
            self.writer.start()
            self.system_event("session_start", url=self.config.url, source=self.source.name, pid=os.getpid())
            if recovered.records or recovered.quarantined:
                self.system_event("spool_recovered", records=recovered.records, quarantined=recovered.quarantined)
            self._install_signal_handlers()
            watchdog = asyncio.create_task(self._watchdog())
            try:
                await self.source.run(self)
            finally:
                watchdog.cancel()
                self.state = "stopped"
                self.system_event("session_end", received=self.received)
                await asyncio.to_thread(self.writer.stop)
                await asyncio.to_thread(remove_run_file, self.paths, self.paths.capture_status.name)
            if self.writer.error is not None:
                raise CaptureFailed(f"the writer failed: {self.writer.error!r}; what was fsynced is in the spool "
                                    "and is recovered on the next start") from self.writer.error
            return self.status()
        finally:
            lock.release()

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
