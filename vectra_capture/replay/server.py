"""`vectra feed serve`: a Socket.IO server that replays recordings as the real server framed them.

It waits for the first client before emitting (so nothing goes into the void), keeps going
through client disconnects, paces by the recorded timestamps divided by `speed` (0 = as fast
as possible, gaps capped at `max_gap` seconds so multi-day recordings stay watchable) and
broadcasts each event to every connected client. Each event is encoded once (packets.py), ahead of
its emission from the moment the port is bound, and the same Engine.IO packets are queued to every
client: python-socketio still does the handshake, namespaces, pings and acks, but no emit
re-encodes a frame.

It also serves, at `/`, a small browser client (page/index.html + page/client.js) that connects
back like the rugs.fun web client, and answers that client's own requests (ping, authenticate,
buyOrder, sellOrder, requestSidebet) with acks, so a browser capture sees both directions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import socketio
from aiohttp import web
from engineio import packet as eio_packet

from vectra_capture.replay.packets import EncodedFrame, encode_frame
from vectra_capture.replay.sources import ReplayEvent

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).parent / "page"
# The player's own requests the feed acknowledges, and the ack it sends back (docs/protocol.md: the real
# server answers an order with `43<id>[{"success": true}]` and an application ping with `43<id>[]`).
REQUEST_ACKS: dict[str, object] = {
    "buyOrder": {"success": True}, "sellOrder": {"success": True}, "requestSidebet": {"success": True},
    "authenticate": {"success": True}, "ping": None,
}
NAMESPACE = "/"
# At --speed 0 the feed waits while a client has more than this many frames queued, so a loop
# never outruns a slow client into unbounded memory (the queue holds shared packets, not copies).
MAX_BACKLOG = 1024
ENCODE_CHUNK = 16  # events encoded ahead per turn of the event loop


@dataclass
class ReplayOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port (logged)
    speed: float = 1.0
    repeat: int = 1
    loop: bool = False
    max_gap: float = 5.0
    drain_timeout: float = 30.0
    ping_interval: float = 25.0  # Engine.IO ping interval, seconds (python-socketio's default, as the real server)


@dataclass
class ReplaySummary:
    emitted: int = 0
    by_event: Counter[str] = field(default_factory=Counter)
    repetitions: int = 0
    clients_seen: int = 0
    url: str = ""
    requests: Counter[str] = field(default_factory=Counter)  # client -> server events, by name

    def to_dict(self) -> dict:
        return {
            "emitted": self.emitted, "by_event": dict(self.by_event), "repetitions": self.repetitions,
            "clients_seen": self.clients_seen, "url": self.url, "requests": dict(self.requests),
        }


class ReplayServer:
    def __init__(self, events: list[ReplayEvent], options: ReplayOptions) -> None:
        self.options = options
        self.summary = ReplaySummary()
        self.sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False,
                                        ping_interval=options.ping_interval)
        self.events = events
        self.frames: list[EncodedFrame | None] = [None] * len(events)  # each event encoded once (_frame)
        self._first_client = asyncio.Event()
        self._stop = asyncio.Event()
        self.port: int | None = None
        self.sio.on("connect", self._on_connect)
        for name, ack in REQUEST_ACKS.items():
            self.sio.on(name, self._request_handler(name, ack))

    def _request_handler(self, name: str, ack: object):
        async def handle(sid: str, *args: object) -> object:
            self.summary.requests[name] += 1
            return ack  # python-socketio sends it as the ack when the request carried an ack id

        return handle

    async def _on_connect(self, sid: str, environ: dict, auth: object = None) -> None:
        self.summary.clients_seen += 1
        self._first_client.set()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> ReplaySummary:
        app = web.Application()
        self.sio.attach(app)
        app.router.add_get("/", _page_file("index.html", "text/html"))
        app.router.add_get("/client.js", _page_file("client.js", "text/javascript"))
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=3.0)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the bound port when 0 was asked
        self.summary.url = f"http://{self.options.host}:{self.port}"
        log.info("feed serving %d events on %s", len(self.events), self.summary.url)
        encoder = asyncio.create_task(self._encode_all())
        try:
            waiter = asyncio.create_task(self._first_client.wait())
            stopper = asyncio.create_task(self._stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            while not self._stop.is_set():
                await self._emit_all()
                self.summary.repetitions += 1
                if not self.options.loop and self.summary.repetitions >= self.options.repeat:
                    break
            await self._drain()
        finally:
            encoder.cancel()
            # Close client sockets first: aiohttp's cleanup otherwise waits on open websockets.
            if self.sio.eio.sockets:  # engineio raises on an empty disconnect-all
                await self.sio.eio.disconnect()
            await self.sio.shutdown()
            await runner.cleanup()
        return self.summary

    def _frame(self, i: int) -> EncodedFrame:
        frame = self.frames[i]
        if frame is None:
            frame = self.frames[i] = encode_frame(self.events[i], self.sio.packet_class, NAMESPACE)
        return frame

    async def _encode_all(self) -> None:
        """Encode every event ahead of its emission, from the moment the port is bound, a chunk per
        turn of the event loop: clients connecting meanwhile are neither refused nor kept waiting,
        and the first frames go out at once (an emit reaching a frame not yet encoded encodes it)."""
        for start in range(0, len(self.events), ENCODE_CHUNK):
            for i in range(start, min(start + ENCODE_CHUNK, len(self.events))):
                self._frame(i)
            await asyncio.sleep(0)

    async def _emit_all(self) -> None:
        speed, prev_ts = self.options.speed, None
        started = time.monotonic()
        due = 0.0
        for i in range(len(self.frames)):
            if self._stop.is_set():
                return
            frame = self._frame(i)
            if speed > 0 and frame.ts is not None:
                if prev_ts is not None:
                    due += min(max(frame.ts - prev_ts, 0.0), self.options.max_gap) / speed
                prev_ts = frame.ts
                wait = started + due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            await self._broadcast(frame)
            self.summary.emitted += 1
            self.summary.by_event[frame.event_name] += 1
            if speed == 0 and i % 64 == 0:
                await self._wait_for_backlogs()  # and let the socket writers run

    async def _broadcast(self, frame: EncodedFrame) -> None:
        """Queue the frame's pre-encoded packets to every client connected to the namespace
        (what `sio.emit` does, minus encoding the frame again and a task per client)."""
        eio = self.sio.eio
        for _sid, eio_sid in self.sio.manager.get_participants(NAMESPACE, None):
            for pkt in frame.packets:
                # A binary attachment gets its own packet: its encoding differs per transport.
                await eio.send_packet(eio_sid, eio_packet.Packet(pkt.packet_type, pkt.data) if pkt.binary else pkt)

    async def _wait_for_backlogs(self) -> None:
        await asyncio.sleep(0)
        for sock in list(self.sio.eio.sockets.values()):
            while sock.queue.qsize() > MAX_BACKLOG and not sock.closed and not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sock.queue.join(), 0.05)  # the writer took all it had queued

    async def _drain(self) -> None:
        """Wait until every connected client's outgoing queue is empty, so a replay that ends
        by itself has delivered everything it counted as emitted."""
        deadline = time.monotonic() + self.options.drain_timeout
        while time.monotonic() < deadline:
            queues = [getattr(s, "queue", None) for s in list(self.sio.eio.sockets.values())]
            if all(q is None or q.empty() for q in queues):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the last frames leave the socket buffers


def _page_file(name: str, content_type: str):
    body = (PAGE_DIR / name).read_bytes()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    return handler


async def serve(events: list[ReplayEvent], options: ReplayOptions) -> ReplaySummary:
    server = ReplayServer(events, options)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, server.stop)
    return await server.run()
