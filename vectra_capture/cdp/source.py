"""The browser capture: every WebSocket frame of the player's own Chrome, through CDP, into the daemon.

One browser connection at a time, retried with backoff forever (browser not started yet, closed,
killed, restarted). On each connection: target discovery + auto-attach (flat sessions, targets wait
for us on start), one explicit attach for pages opened before we came, and on every page session
`Network.enable` *then* `Runtime.runIfWaitingForDebugger`, so a new tab's socket is seen from its
first frame. A target is never attached twice (that would double every frame event).

Frames of sockets whose URL contains `match` are decoded by `frames.FrameDecoder` (the same decoder
as the socket client's: one per socket and direction; binary frames base64-decoded, so binary events
land like the socket client's) and the items go to `daemon.on_frame` in CDP's arrival order, with
the browser's own timestamp mapped to UTC (`clock.py`) and the socket's CDP request id. Frames the
browser sends are redacted first (`redact.py`). Lifecycle lands as system_event rows:
browser_attached / browser_lost / browser_retrying, target_attached / target_detached,
socket_created / socket_closed / socket_error, socket_unknown (a socket opened before we attached:
its URL is unknowable, so it is not recorded; reloading the tab records its successor).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp

from vectra_capture.cdp.clock import BrowserClock
from vectra_capture.cdp.connection import CdpConnection, CdpError
from vectra_capture.cdp.endpoint import CdpEndpointError, browser_websocket, check_cdp_url
from vectra_capture.cdp.redact import DEFAULT_SECRET_KEYS, Redactor
from vectra_capture.errors import error_chain
from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES, Decoded, FrameDecoder, Quarantined
from vectra_capture.urls import redact_url

if TYPE_CHECKING:
    from vectra_capture.daemon import CaptureDaemon

log = logging.getLogger(__name__)

CAPTURED_TARGET_TYPES = ("page",)
STABLE_SECONDS = 30.0  # a browser connection that lasted this long resets the backoff


@dataclass
class CdpOptions:
    url: str
    match: str = "socket.io"
    allow_remote: bool = False
    keep_secrets: bool = False
    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    command_timeout: float = 10.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES


@dataclass
class Target:
    target_id: str
    session_id: str
    url: str


@dataclass
class Socket:
    socket_id: str  # CDP request id
    url: str  # redacted
    target_id: str | None
    matched: bool
    opened_at: float = field(default_factory=time.time)
    received: int = 0
    sent: int = 0
    # one decoder per direction: a binary packet's header waits in it for its attachments
    decoders: dict[str, FrameDecoder] = field(default_factory=dict)


class CdpSource:
    """A frame source for CaptureDaemon (see daemon.FrameSource)."""

    name = "cdp"

    def __init__(self, options: CdpOptions) -> None:
        self.options = options
        self.url = check_cdp_url(options.url, options.allow_remote)  # refuse before anything runs
        self.redactor = Redactor(options.secret_keys)
        self.daemon: CaptureDaemon | None = None
        self.conn: CdpConnection | None = None
        self.clock = BrowserClock()
        self.browser_version: str | None = None
        self.attached_since: float | None = None
        self.targets: dict[str, Target] = {}  # session id -> target (pages we hold Network on)
        self._target_ids: set[str] = set()
        self.sockets: dict[str, Socket] = {}  # CDP request id -> socket
        self._unknown_sockets: set[str] = set()
        self.frames: Counter[str] = Counter()  # direction -> websocket frames handed to the decoders
        self.ignored = 0  # frames of sockets that do not match, or whose URL is unknown
        self.errors = 0  # CDP events that could not be handled
        self.last_error: str | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- the FrameSource contract ---------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        open_sockets = [s for s in list(self.sockets.values()) if s.matched]
        return {
            "browser": "attached" if self.attached_since else "waiting",
            "cdp_url": redact_url(self.url),
            "browser_version": self.browser_version,
            "attached_since": _iso(self.attached_since),
            "pages": len(self.targets),
            "sockets": [{"id": s.socket_id, "url": s.url, "target": s.target_id, "received": s.received,
                         "sent": s.sent} for s in open_sockets],
            "ws_frames": {"received": self.frames["received"], "sent": self.frames["sent"]},
            "redacted": self.redactor.redacted,
            "keep_secrets": self.options.keep_secrets,
            "ignored_frames": self.ignored,
            "cdp_errors": self.errors,
            "last_error": self.last_error,
        }

    def connect_details(self, socket_id: str | None) -> dict[str, Any]:
        sock = self.sockets.get(socket_id or "")
        return {"socket_id": socket_id, "url": sock.url if sock else None,
                "target_id": sock.target_id if sock else None}

    async def run(self, daemon: CaptureDaemon) -> None:
        """Attach, follow the browser until it goes away, retry forever; return when the daemon stops."""
        self.daemon = daemon
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while not daemon.stop_requested:
                if attempt:
                    delay = min(self.options.backoff_max, self.options.backoff_initial * 2 ** (attempt - 1))
                    daemon.system_event("browser_retrying", attempt=attempt, delay_seconds=delay,
                                        error=self.last_error)
                    if await daemon.stopped_within(delay):
                        return
                    daemon.reconnects += 1
                daemon.state = "waiting"
                try:
                    ws_url, version = await browser_websocket(http, self.url, self.options.allow_remote)
                    self.conn = await CdpConnection.open(http, ws_url, self._on_event)
                except (OSError, aiohttp.ClientError, CdpEndpointError, TimeoutError, ValueError) as exc:
                    self.last_error = f"{type(exc).__name__}: {error_chain(exc)}"[:300]
                    attempt += 1
                    continue
                self.browser_version = version.get("Browser")
                started = time.monotonic()
                reason = await self._follow(self.conn)
                if daemon.stop_requested:
                    return
                self.last_error = reason
                daemon.system_event("browser_lost", reason=reason, cdp_url=redact_url(self.url))
                attempt = 1 if time.monotonic() - started >= STABLE_SECONDS else attempt + 1

    # -- one browser connection -----------------------------------------------------------------
    async def _follow(self, conn: CdpConnection) -> str:
        assert self.daemon is not None
        self.clock = BrowserClock()
        reader = asyncio.create_task(conn.run())
        stop = asyncio.create_task(self.daemon.wait_stop())
        try:
            try:
                pages = await self._attach_all(conn)
            except CdpError as exc:
                return f"attaching failed: {exc}"
            self.attached_since = self.daemon.connected_since = time.time()
            self._update_state()
            self.daemon.system_event("browser_attached", cdp_url=redact_url(self.url), browser=self.browser_version,
                                     pages=pages)
            await asyncio.wait({reader, stop}, return_when=asyncio.FIRST_COMPLETED)
            return reader.result() if reader.done() and not reader.cancelled() else "capture stopping"
        finally:
            stop.cancel()
            await conn.close()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            for task in list(self._tasks):
                task.cancel()
            self._forget_browser("browser lost" if not self.daemon.stop_requested else "capture stopping")

    async def _attach_all(self, conn: CdpConnection) -> int:
        t = self.options.command_timeout
        await conn.send("Target.setDiscoverTargets", {"discover": True}, timeout=t)
        await conn.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True,
                                                 "flatten": True}, timeout=t)
        infos = (await conn.send("Target.getTargets", timeout=t)).get("targetInfos", [])
        pages = [i for i in infos if i.get("type") in CAPTURED_TARGET_TYPES]
        for info in pages:  # pages open before we came, when auto-attach did not take them already
            if info["targetId"] not in self._target_ids:
                with contextlib.suppress(CdpError):  # the tab may close meanwhile
                    await conn.send("Target.attachToTarget", {"targetId": info["targetId"], "flatten": True},
                                    timeout=t)
        return len(pages)

    def _forget_browser(self, reason: str) -> None:
        for sock in list(self.sockets.values()):
            self._close_socket(sock, reason)
        self.sockets.clear()
        self._unknown_sockets.clear()
        self.targets.clear()
        self._target_ids.clear()
        self.attached_since = None
        self.conn = None
        if self.daemon is not None:
            self.daemon.live.mark_stale()
            self.daemon.state = "waiting"
            self.daemon.connected_since = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- CDP events (event loop; never awaits: frames are stamped in arrival order) ---------------
    def _on_event(self, method: str, params: dict[str, Any], session_id: str | None) -> None:
        try:
            handler = _HANDLERS.get(method)
            if handler is not None:
                handler(self, params, session_id)
            elif method == "Network.requestWillBeSent" and "wallTime" in params:
                self.clock.pair(params["timestamp"], params["wallTime"])
        except Exception as exc:  # count it and keep going: one odd event must not stop the capture
            self.errors += 1
            self.last_error = f"{method}: {type(exc).__name__}: {exc}"[:300]
            log.exception("CDP event %s could not be handled", method)

    def _attached(self, params: dict[str, Any], _session: str | None) -> None:
        info, sid = params.get("targetInfo") or {}, params["sessionId"]
        target_id = info.get("targetId", "")
        if info.get("type") not in CAPTURED_TARGET_TYPES or target_id in self._target_ids:
            # not a page, or a second session on a page we hold already: let it run and let go of it
            self._spawn(self._release(self.conn, sid, params.get("waitingForDebugger", False)))
            return
        self._target_ids.add(target_id)
        self.targets[sid] = Target(target_id, sid, info.get("url", ""))
        self._spawn(self._enable(self.conn, sid, params.get("waitingForDebugger", False)))
        self._event("target_attached", target_id=target_id, url=redact_url(info.get("url", "")))

    async def _enable(self, conn: CdpConnection | None, sid: str, waiting: bool) -> None:
        if conn is None:
            return
        try:
            await conn.send("Network.enable", {}, sid, timeout=self.options.command_timeout)
        except CdpError as exc:
            self.last_error = f"Network.enable: {exc}"
        finally:  # a target waiting for us must never be left paused
            if waiting:
                with contextlib.suppress(CdpError):
                    await conn.send("Runtime.runIfWaitingForDebugger", {}, sid, timeout=self.options.command_timeout)

    async def _release(self, conn: CdpConnection | None, sid: str, waiting: bool) -> None:
        if conn is None:
            return
        with contextlib.suppress(CdpError):
            if waiting:
                await conn.send("Runtime.runIfWaitingForDebugger", {}, sid, timeout=self.options.command_timeout)
            await conn.send("Target.detachFromTarget", {"sessionId": sid}, timeout=self.options.command_timeout)

    def _detached(self, params: dict[str, Any], _session: str | None) -> None:
        target = self.targets.pop(params.get("sessionId", ""), None)
        if target is None:
            return
        self._target_ids.discard(target.target_id)
        for sock in [s for s in self.sockets.values() if s.target_id == target.target_id]:
            self._close_socket(sock, "tab closed")
            self.sockets.pop(sock.socket_id, None)
        self._event("target_detached", target_id=target.target_id)
        self._update_state()

    def _info_changed(self, params: dict[str, Any], _session: str | None) -> None:
        info = params.get("targetInfo") or {}
        for target in self.targets.values():
            if target.target_id == info.get("targetId"):
                target.url = info.get("url", target.url)

    def _ws_created(self, params: dict[str, Any], session: str | None) -> None:
        target = self.targets.get(session or "")
        url = params.get("url", "")
        sock = Socket(params["requestId"], redact_url(url), target.target_id if target else None,
                      self.options.match in url)
        self.sockets[sock.socket_id] = sock
        if sock.matched:
            self._event("socket_created", socket_id=sock.socket_id, url=sock.url, target_id=sock.target_id)
            if self.daemon is not None:
                self.daemon.game_update_seen()  # the watchdog's silence starts with the socket
            self._update_state()

    def _ws_handshake(self, params: dict[str, Any], _session: str | None) -> None:
        if "wallTime" in params and "timestamp" in params:
            self.clock.pair(params["timestamp"], params["wallTime"])

    def _ws_closed(self, params: dict[str, Any], _session: str | None) -> None:
        sock = self.sockets.pop(params.get("requestId", ""), None)
        if sock is not None:
            self._close_socket(sock, "closed")
            self._update_state()

    def _ws_error(self, params: dict[str, Any], _session: str | None) -> None:
        sock = self.sockets.get(params.get("requestId", ""))
        if sock is not None and sock.matched:
            self._event("socket_error", socket_id=sock.socket_id, error=str(params.get("errorMessage"))[:300])

    def _close_socket(self, sock: Socket, reason: str) -> None:
        if not sock.matched:
            return
        for direction, decoder in sock.decoders.items():  # a binary packet still waiting: quarantined
            self._hand_over(decoder.flush(), direction, None, sock.socket_id)
        self._event("socket_closed", socket_id=sock.socket_id, url=sock.url, target_id=sock.target_id,
                    reason=reason, received=sock.received, sent=sock.sent)
        if self.daemon is not None:
            self.daemon.live.mark_stale(sock.socket_id)

    def _update_state(self) -> None:
        """`connected` while a recorded socket is open (the watchdog watches it), else `attached`."""
        if self.daemon is not None and self.attached_since is not None:
            self.daemon.state = "connected" if any(s.matched for s in self.sockets.values()) else "attached"

    def _frame_received(self, params: dict[str, Any], _session: str | None) -> None:
        self._frame(params, "received")

    def _frame_sent(self, params: dict[str, Any], _session: str | None) -> None:
        self._frame(params, "sent")

    def _frame(self, params: dict[str, Any], direction: str) -> None:
        arrived = time.time()
        request_id = params.get("requestId", "")
        sock = self.sockets.get(request_id)
        if sock is None or not sock.matched:
            self.ignored += 1
            if sock is None and request_id not in self._unknown_sockets:
                self._unknown_sockets.add(request_id)
                self._event("socket_unknown", socket_id=request_id,
                            hint="opened before the capture attached, so its URL is unknown and it is not "
                                 "recorded; reload the tab to record its new socket")
            return
        ts_us = self.clock.wall_us(params["timestamp"], arrived)
        if direction == "sent":
            sock.sent += 1
        else:
            sock.received += 1
        self.frames[direction] += 1
        self._deliver(params.get("response") or {}, direction, ts_us, sock)

    def _deliver(self, response: dict[str, Any], direction: str, ts_us: int, sock: Socket) -> None:
        """THE one place a browser frame enters the daemon: decoded by the socket's FrameDecoder for
        its direction, like the socket client's. Text frames are Engine.IO messages (a sent one has
        its credentials redacted first); binary frames (attachments of binary packets) arrive base64."""
        data = response.get("payloadData", "")
        decoder = sock.decoders.get(direction)
        if decoder is None:
            decoder = sock.decoders[direction] = FrameDecoder(self.options.max_frame_bytes)
        if response.get("opcode") == 2:
            try:
                items = decoder.feed(base64.b64decode(data, validate=True), text=False)
            except (binascii.Error, TypeError) as exc:  # binascii.Error is the ValueError b64decode raises
                items = [Quarantined(str(data).encode("utf-8", "surrogatepass"),
                                     f"binary frame whose CDP payload is not base64: {exc}")]
        else:
            if direction == "sent" and not self.options.keep_secrets and data[:1] == "4":
                data = "4" + self.redactor.packet(data[1:])
            items = decoder.feed(data)
        self._hand_over(items, direction, ts_us, sock.socket_id)

    def _hand_over(self, items: list[Decoded], direction: str, ts_us: int | None, socket_id: str) -> None:
        assert self.daemon is not None
        for item in items:
            self.daemon.on_frame(item, direction, ts_us=ts_us, socket_id=socket_id)

    def _event(self, name: str, **details: Any) -> None:
        if self.daemon is not None:
            self.daemon.system_event(name, **details)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts else None


_HANDLERS = {
    "Target.attachedToTarget": CdpSource._attached,
    "Target.detachedFromTarget": CdpSource._detached,
    "Target.targetInfoChanged": CdpSource._info_changed,
    "Network.webSocketCreated": CdpSource._ws_created,
    "Network.webSocketWillSendHandshakeRequest": CdpSource._ws_handshake,
    "Network.webSocketClosed": CdpSource._ws_closed,
    "Network.webSocketFrameError": CdpSource._ws_error,
    "Network.webSocketFrameReceived": CdpSource._frame_received,
    "Network.webSocketFrameSent": CdpSource._frame_sent,
}
