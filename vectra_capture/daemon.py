"""The capture daemon: one session, one socket, every frame landed, reconnecting forever.

Threads: the asyncio loop owns the socket and stamps each frame (receipt time, seq) before any
await; the writer thread owns the disk. Lifecycle (connect, disconnect, reconnect attempts,
connect errors, watchdog alarms) lands as system_event rows in the same spool.
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
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio

from vectra_capture.client import CaptureClient
from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES, Control, Decoded, Quarantined, envelope_ids
from vectra_capture.live_state import LiveState
from vectra_capture.store import FileLock, RawSink, recover_spool, remove_run_file
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.writer import WriterThread

log = logging.getLogger(__name__)

LIVE_URL = "https://backend.rugs.fun?frontend-version=1.0"
LIVE_HEADERS = {"Origin": "https://rugs.fun"}
STABLE_SECONDS = 30.0  # a connection that lasted this long resets the reconnect backoff


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
    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self.paths = config.data_dir
        self.session_id = str(uuid.uuid4())
        self.live = LiveState()
        self.received = 0
        self.control: Counter[str] = Counter()  # Engine.IO / Socket.IO control packets, by kind
        self.reconnects = 0
        self.state = "starting"
        self.connected_since: float | None = None
        self.started_at = time.time()
        self._seq = 0
        self._last_game_update = time.monotonic()
        self._alarmed = False
        self._stop = asyncio.Event()
        self._disconnected = asyncio.Event()
        self.writer: WriterThread | None = None
        self._client: CaptureClient | None = None

    # -- recording (event loop thread; never awaits, never touches the disk) -------------------
    def _record(self, doc_type: str, raw: bytes, **fields: Any) -> None:
        self._seq += 1
        rec = RawRecord(
            doc_type, time.time_ns() // 1000, self._seq, self.config.source, self.session_id, raw, **fields
        )
        assert self.writer is not None
        self.writer.put(rec)

    def system_event(self, name: str, **details: Any) -> None:
        log.info("system event %s %s", name, details or "")
        self._record("system_event", json.dumps(details, default=str).encode(), event_name=name)

    def on_frame(self, item: Decoded, direction: str) -> None:
        """Called by the client for every decoded WebSocket message (frames.FrameDecoder): a Frame
        becomes a ws_event row, a Control packet is counted, a Quarantined one lands in quarantine.
        Never raises: whatever goes wrong, the frame is quarantined with the reason."""
        try:
            self._on_frame(item, direction)
        except Exception as exc:
            log.exception("frame could not be captured; quarantining it")
            raw = getattr(item, "raw", None)
            if raw is None:
                raw = getattr(item, "json_text", None) or getattr(item, "text", "")
            self._quarantine(raw, direction, f"capture error: {type(exc).__name__}: {exc}")

    def _quarantine(self, data: Any, direction: str, reason: str) -> None:
        raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogatepass")
        self.received += direction == "received"
        self._record(QUARANTINE, raw, direction=direction, origin_file=f"socket:{direction}", reason=reason)

    def _on_frame(self, item: Decoded, direction: str) -> None:
        if isinstance(item, Quarantined):
            self._quarantine(item.raw, direction, item.reason)
            return
        if isinstance(item, Control):
            self.control[item.kind] += 1
            if item.kind == "connect" and direction == "received" and item.text[2:3] in ("", "{"):
                self._connected()  # the default namespace's CONNECT: recorded here, in wire order
            return
        self.received += direction == "received"
        payload = item.payload
        game_id, player_id, username = envelope_ids(payload)
        self._record(
            "ws_event", item.json_text.encode("utf-8", "surrogatepass"), direction=direction,
            event_name=item.event_name, game_id=game_id, player_id=player_id, username=username,
            namespace=item.namespace, ack_id=item.ack_id,
        )
        if item.event_name == "gameStateUpdate":
            self._last_game_update = time.monotonic()
            self._alarmed = False
        try:  # the frame is recorded already: a surprise here must not quarantine it a second time
            self.live.observe(item.event_name, payload, time.time())
        except Exception:
            log.exception("live state could not follow %s", item.event_name)

    def _connected(self) -> None:
        client = self._client
        self.state = "connected"
        self.connected_since = time.time()
        self._last_game_update = time.monotonic()
        self.system_event("connect", url=self.config.url, transport=client.transport() if client else None,
                          sid=client.sid if client else None)

    # -- status (read by the writer thread once a second) ------------------------------------
    def status(self) -> dict[str, Any]:
        w = self.writer
        sink = w.sink if w else None
        return {
            "pid": os.getpid(),
            "session_id": self.session_id,
            "data_dir": str(self.paths.root),
            "url": self.config.url,
            "source": self.config.source,
            "state": self.state,
            "started_at": _iso(self.started_at),
            "connected_since": _iso(self.connected_since),
            "reconnects": self.reconnects,
            "received": self.received,
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
            "live": self.live.to_dict(),
            "updated_at": _iso(time.time()),
        }

    # -- lifecycle --------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    async def run(self) -> dict[str, Any]:
        lock = FileLock(self.paths.capture_lock).acquire()  # one daemon per data root
        try:
            recovered = await asyncio.to_thread(recover_spool, self.paths, self.session_id)
            sink = RawSink(self.paths, self.session_id, roll_seconds=self.config.roll_seconds)
            self.writer = WriterThread(
                sink, self.config.flush_interval, self.config.flush_every, status=self.status
            )
            self.writer.start()
            self.system_event("session_start", url=self.config.url, source=self.config.source, pid=os.getpid())
            if recovered.records or recovered.quarantined:
                self.system_event("spool_recovered", records=recovered.records, quarantined=recovered.quarantined)
            self._install_signal_handlers()
            watchdog = asyncio.create_task(self._watchdog())
            try:
                await self._connection_loop()
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

    def _new_client(self) -> CaptureClient:
        # The `connect` system_event is recorded by _on_frame when the server's CONNECT packet is
        # decoded, so it precedes the frames that follow it.
        client = CaptureClient(self.on_frame, max_frame_bytes=self.config.max_frame_bytes)
        self._client = client

        @client.event
        async def disconnect(reason: str = "unknown") -> None:
            self.state = "disconnected"
            self.connected_since = None
            self.system_event("disconnect", reason=str(reason))
            self._disconnected.set()

        return client

    async def _connection_loop(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            if attempt:
                delay = min(self.config.backoff_max, self.config.backoff_initial * 2 ** (attempt - 1))
                self.system_event("reconnect_attempt", attempt=attempt, delay_seconds=delay)
                if await self._stopped_within(delay):
                    return
                self.reconnects += 1
            client = self._new_client()
            self._disconnected.clear()
            self.state = "connecting"
            try:
                await client.connect(
                    self.config.url,
                    headers=self.config.headers,
                    transports=self.config.transports,
                    wait_timeout=self.config.connect_timeout,
                )
            except (socketio.exceptions.ConnectionError, OSError, ValueError) as exc:
                self.state = "disconnected"
                self.system_event("connect_error", attempt=attempt, error=str(exc) or type(exc).__name__)
                attempt += 1
                await _quietly(client.disconnect())
                continue
            connected_at = time.monotonic()
            stop = asyncio.create_task(self._stop.wait())
            dropped = asyncio.create_task(self._disconnected.wait())
            await asyncio.wait({stop, dropped}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            dropped.cancel()
            if self._stop.is_set():
                self.state = "stopping"
                await _quietly(client.disconnect())
                return
            await _quietly(client.disconnect())
            # Back off from a server that accepts and drops at once; start over after a stable link.
            attempt = 1 if time.monotonic() - connected_at >= STABLE_SECONDS else attempt + 1

    async def _stopped_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        return self._stop.is_set()

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


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro


def run_daemon(config: CaptureConfig) -> dict[str, Any]:
    return asyncio.run(CaptureDaemon(config).run())
