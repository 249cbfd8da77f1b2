"""A python-socketio AsyncClient that hands every frame, verbatim, to a callback.

It hooks the Engine.IO message dispatch (one level below the catch-all `on("*")` handler), so
frames python-socketio could not decode are kept too, the raw JSON text is stored exactly as
received, and events are not decoded twice. Frames the client sends are captured as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engineio
import socketio
from socketio import packet

# (frame text or bytes, "received" | "sent") -> True when the callback consumed the frame
FrameSink = Callable[[Any, str], bool]

# The long-polling fallback rejects a poll response holding more than 16 packets, silently
# dropping bursts (seen here with a local server); raise the limit for whenever websocket is unavailable.
engineio.payload.Payload.max_decode_packets = 4096


class CaptureClient(socketio.AsyncClient):
    def __init__(self, on_frame: FrameSink, **kwargs: Any) -> None:
        kwargs.setdefault("reconnection", False)  # the daemon owns reconnects, to record each one
        super().__init__(**kwargs)
        self._on_frame = on_frame
        # Registered so python-socketio has a handler for anything that still reaches it.
        self.on("*", self._ignore_event)

    async def _ignore_event(self, event: str, *args: Any) -> None:
        return None

    async def _handle_eio_message(self, data: Any) -> None:
        if self._on_frame(data, "received"):
            return
        await super()._handle_eio_message(data)

    async def _send_packet(self, pkt: packet.Packet) -> None:
        if pkt.packet_type == packet.EVENT:
            encoded = pkt.encode()
            self._on_frame(encoded if isinstance(encoded, str) else encoded[0], "sent")
        await super()._send_packet(pkt)
