"""A python-socketio AsyncClient that hands every WebSocket message it receives or sends, decoded by
`frames.FrameDecoder`, to a callback, and lets no frame cost the connection.

Received messages are taken at the WebSocket itself: the aiohttp session python-engineio uses gets a
`ws_response_class` whose `receive()` decodes each message before python-engineio sees it. Only what
python-engineio / python-socketio must act on is passed on to them (Engine.IO control packets,
Socket.IO connect / disconnect / connect_error, text acks); events, binary packets and anything
malformed are consumed there, so an invalid UTF-8 message, an empty one or an unknown packet type
(which python-engineio answers by closing the socket) never reach it. Text messages arrive
undecoded (`decode_text=False`) so invalid UTF-8 is quarantined instead of failing the socket, and
aiohttp's 4 MiB `max_msg_size` is raised to `WS_CEILING_FACTOR` x the frame limit, so a message
over the limit is still read whole and quarantined (its head kept) on a live connection.
With the long-polling transport, messages are decoded in `_handle_eio_message` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import engineio
import socketio
from socketio import packet

from vectra_capture.frames import DEFAULT_MAX_FRAME_BYTES, Control, Decoded, Frame, FrameDecoder, Quarantined

# (decoded item, "received" | "sent"); must not raise
FrameSink = Callable[[Decoded, str], None]

# Beyond the frame limit, messages are still received (and quarantined) up to this multiple of it; a
# message larger still makes aiohttp close the socket (1009), recorded as a quarantine record.
WS_CEILING_FACTOR = 16

# The long-polling fallback rejects a poll response holding more than 16 packets, silently
# dropping bursts (seen here with a local server); raise the limit for whenever websocket is unavailable.
engineio.payload.Payload.max_decode_packets = 4096


def _forwarded(items: list[Decoded]) -> bool:
    """Whether python-engineio / python-socketio must see the message these items came from."""
    if not items:
        return False  # a binary packet's header, waiting for its attachments
    last = items[-1]
    if isinstance(last, Control):
        return last.kind != "upgrade"  # only clients send it; python-engineio logs it as an error
    return isinstance(last, Frame) and last.packet_type == "ack"


def _session_factory(capture: Callable[[Any], Any]) -> Callable[[], aiohttp.ClientSession]:
    """An aiohttp session (for python-engineio's `http_session`) whose websockets pass every
    received message through `capture`, which returns the message to hand on or None to consume it."""

    class CapturingWebSocket(aiohttp.ClientWebSocketResponse):
        async def receive(self, timeout: float | None = None) -> Any:
            while True:
                msg = await super().receive(timeout)
                passed = capture(msg)
                if passed is not None:
                    return passed

    return lambda: aiohttp.ClientSession(ws_response_class=CapturingWebSocket)


class CaptureClient(socketio.AsyncClient):
    def __init__(self, on_frame: FrameSink, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, **kwargs: Any) -> None:
        kwargs.setdefault("reconnection", False)  # the daemon owns reconnects, to record each one
        kwargs.setdefault("http_session", _session_factory(self._capture_ws_message))
        kwargs.setdefault("websocket_extra_options", {
            "max_msg_size": max_frame_bytes * WS_CEILING_FACTOR, "decode_text": False})
        super().__init__(**kwargs)
        self._on_frame = on_frame
        self.max_frame_bytes = max_frame_bytes
        self._received = FrameDecoder(max_frame_bytes)
        self._sent = FrameDecoder(max_frame_bytes)
        self._ws_dispatched = 0  # Socket.IO messages handed on from the websocket, not to capture twice
        # Registered so python-socketio has a handler for anything that still reaches it.
        self.on("*", self._ignore_event)

    async def _ignore_event(self, event: str, *args: Any) -> None:
        return None

    def _deliver(self, items: list[Decoded], direction: str) -> None:
        for item in items:
            self._on_frame(item, direction)

    # -- received, websocket transport (inside python-engineio's read loop; no await) --------------
    def _capture_ws_message(self, msg: aiohttp.WSMessage) -> aiohttp.WSMessage | None:
        if msg.type is aiohttp.WSMsgType.BINARY:
            self._deliver(self._received.feed(msg.data, text=False), "received")
            return None
        if msg.type is aiohttp.WSMsgType.ERROR:  # the socket is closing: say why, as a record
            self._deliver([*self._received.flush("a websocket error"),
                           Quarantined(b"", f"websocket error, the connection is lost: {msg.data}")], "received")
            return msg
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return msg  # close / closed: python-engineio ends the connection
        data = msg.data
        if isinstance(data, bytes):
            if len(data) > self.max_frame_bytes:
                self._deliver(self._received.feed(data, text=True), "received")
                return None
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                self._deliver(self._received.feed(data, text=True), "received")
                return None
        items = self._received.feed(data)
        self._deliver(items, "received")
        if not _forwarded(items):
            return None
        if data.startswith("4"):
            self._ws_dispatched += 1
        return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, data, msg.extra)

    # -- received, long-polling transport; and the dispatch of what the websocket handed on ---------
    async def _handle_eio_message(self, data: Any) -> None:
        if self._ws_dispatched:
            self._ws_dispatched -= 1
            await super()._handle_eio_message(data)
            return
        items = self._received.feed_packet(data)
        self._deliver(items, "received")
        if isinstance(data, str) and _forwarded(items):
            await super()._handle_eio_message(data)

    async def _handle_eio_disconnect(self, reason: Any) -> None:
        self._deliver(self._received.flush(), "received")
        self._deliver(self._sent.flush(), "sent")
        await super()._handle_eio_disconnect(reason)

    # -- sent -------------------------------------------------------------------------------------
    async def _send_packet(self, pkt: packet.Packet) -> None:
        encoded = pkt.encode()
        for part in encoded if isinstance(encoded, list) else [encoded]:
            self._deliver(self._sent.feed_packet(part), "sent")
        await super()._send_packet(pkt)
