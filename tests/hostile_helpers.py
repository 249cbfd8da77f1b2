"""A hostile Engine.IO v4 server on 127.0.0.1: every kind of odd frame between numbered good ones
(for the socket capture, `test_capture_hostile.py`, and the browser capture, `test_cdp_hostile.py`)."""

from __future__ import annotations

import asyncio
import threading

from aiohttp import WSMsgType, web

LIMIT = 6 << 20  # --max-frame-bytes for this run
BIG = '42["bigEvt",{"blob":"' + "x" * (5 << 20) + '"}]'  # over aiohttp's default 4 MiB, under LIMIT
HUGE = '42["hugeEvt",{"blob":"' + "y" * (7 << 20) + '"}]'  # over LIMIT
BIN_HEADER = '451-["binEvt",{"_placeholder":true,"num":0}]'
BIN_DATA = b"\x00\x01\xfe\xff"
BIN_ACK = '461-/admin,5[{"_placeholder":true,"num":0}]'

# (what the server sends: a str is a text message, bytes a binary one, ("text-bytes", b) raw text
#  bytes), what it must become: ("ws", event_name) | ("q", reason fragment) | ("control", kind)
ODD: list[tuple[list, list[tuple[str, str]]]] = [
    ([BIN_HEADER, BIN_DATA], [("ws", "binEvt")]),
    ([("text-bytes", b'42["bad\xff\xfe"]')], [("q", "not valid UTF-8")]),
    ([""], [("q", "empty Engine.IO message")]),
    (["9hello"], [("q", "unknown packet type '9' (Engine.IO)")]),
    (["xyz"], [("q", "unknown packet type 'x' (Engine.IO)")]),
    (['47["what"]'], [("q", "unknown packet type '7' (Socket.IO)")]),
    (["4"], [("q", "empty Socket.IO packet")]),
    (['42["broken",{"a":'], [("q", "invalid JSON")]),
    ([BIG], [("ws", "bigEvt")]),
    ([HUGE], [("q", "'hugeEvt' of")]),
    (['42/admin,["nsEvt",{"a":1}]'], [("ws", "nsEvt")]),
    (['4217["askEvt",{"q":1}]'], [("ws", "askEvt")]),
    (['4399["answer"]'], [("ws", "__ack__")]),
    ([BIN_ACK, b"ack-bytes"], [("ws", "__ack__")]),
    ([b"\x00stray"], [("q", "binary message with no binary packet")]),
    (['452-["partial",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', b"only-one"],
     [("q", "got 1 of its 2 attachments before a text message"), ("q", "attachment 0 of binary_event 'partial'")]),
    (["6"], [("control", "noop")]),
    (["5"], [("control", "upgrade")]),
    (["2"], [("control", "ping")]),
]
N_GOOD = len(ODD) + 2
# A browser page speaking just enough Engine.IO to the server: CONNECT after open, pong for each ping.
PAGE = """<!doctype html><title>hostile</title><script>
const ws = new WebSocket(`ws://${location.host}/socket.io/?EIO=4&transport=websocket`);
ws.onmessage = (e) => {
  if (typeof e.data !== "string") return;
  if (e.data.startsWith("0")) ws.send("40");
  else if (e.data === "2") ws.send("3");
};
</script>"""


def good(n: int) -> str:
    return '42["good",{"n":' + str(n) + ',"gameId":"20251207-00000000000000aa"}]'


class HostileServer:
    """An aiohttp websocket endpoint speaking just enough Engine.IO v4 for python-socketio."""

    def __init__(self, port: int, odd: list[tuple[list, list[tuple[str, str]]]] | None = None) -> None:
        self.port = port
        self.odd = ODD if odd is None else odd
        self.from_client: list[str] = []
        self.sent_all = threading.Event()
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('0{"sid":"hostile","upgrades":[],"pingInterval":25000,"pingTimeout":60000,'
                          '"maxPayload":100000000}')
        sender: asyncio.Task | None = None
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            self.from_client.append(msg.data)
            if msg.data.startswith("40") and sender is None:
                sender = asyncio.create_task(self._send_all(ws))
        return ws

    async def _send_all(self, ws: web.WebSocketResponse) -> None:
        try:
            await ws.send_str('40{"sid":"ns-hostile"}')
            n = 0
            await ws.send_str(good(n))
            for messages, _expect in self.odd:
                for m in messages:
                    if isinstance(m, tuple):
                        await ws.send_frame(m[1], WSMsgType.TEXT)
                    elif isinstance(m, bytes):
                        await ws.send_bytes(m)
                    else:
                        await ws.send_str(m)
                n += 1
                await ws.send_str(good(n))
            await ws.send_str(good(n + 1))
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        self.sent_all.set()

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    def start(self) -> None:
        self._thread.start()

        async def up() -> None:
            app = web.Application()
            app.router.add_get("/socket.io/", self._handler)
            app.router.add_get("/", self._page)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        asyncio.run_coroutine_threadsafe(up(), self._loop).result(30)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)


def expected(odd: list[tuple[list, list[tuple[str, str]]]] = ODD) -> list[tuple[str, str]]:
    """What lands, in order: ("ws", event_name) | ("q", reason fragment); control packets are only counted."""
    out = [("ws", "good")]
    for _messages, expect in odd:
        out += [e for e in expect if e[0] != "control"] + [("ws", "good")]
    return [*out, ("ws", "good")]


