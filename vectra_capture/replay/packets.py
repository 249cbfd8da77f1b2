"""Recorded events encoded once into the Engine.IO packets a Socket.IO server sends for them.

Encoding a ~10 KB (up to 350 KB) game state to JSON (and python-socketio's recursive search for binary
arguments) on every emit capped the feed at a few hundred frames/s. Each recorded event is encoded
once, by python-socketio's own packet class (so the wire text is exactly what
`sio.emit` would have sent: `42["gameStateUpdate",{...}]`, `42/ns,[...]` in another namespace,
binary arguments as a `451-[...]` packet plus attachments), and the same packet objects are then
queued to every client.
"""

from __future__ import annotations

from dataclasses import dataclass

from engineio import packet as eio_packet
from socketio import packet as sio_packet

from vectra_capture.replay.sources import ReplayEvent


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    ts: float | None  # seconds since the epoch, for pacing
    event_name: str
    packets: tuple[eio_packet.Packet, ...]  # one text MESSAGE, plus binary attachments if any


def encode_frame(event: ReplayEvent, packet_class: type[sio_packet.Packet] = sio_packet.Packet,
                 namespace: str = "/") -> EncodedFrame:
    """The Engine.IO MESSAGE packets of one broadcast event, their wire text built now."""
    data = [event.event_name, *event.args]
    try:
        # Recordings are JSON, so first skip python-socketio's recursive search for bytes (it
        # costs more than the encoding); JSON refuses bytes, and then the search does run.
        encoded = packet_class(sio_packet.EVENT, namespace=namespace, data=data, binary=False).encode()
    except TypeError:
        encoded = packet_class(sio_packet.EVENT, namespace=namespace, data=data).encode()
    parts = encoded if isinstance(encoded, list) else [encoded]
    packets = tuple(eio_packet.Packet(eio_packet.MESSAGE, data=part) for part in parts)
    for pkt in packets:
        if not pkt.binary:
            # Packet.encode() caches its result; a binary attachment is left uncached because a
            # long-polling client needs it base64-encoded (encode(b64=True)), a websocket raw.
            pkt.encode()
    return EncodedFrame(event.ts, event.event_name, packets)

