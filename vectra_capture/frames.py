"""Socket.IO packet text -> event name, arguments and envelope ids. Pure functions, never raise.

A packet is `<type>[<attachments>-][/<namespace>,][<ack id>]<json>`; the rugs.fun feed sends
EVENT packets `42["name", ...args]`, the payload being the LAST argument (a trace object may
precede it). Anything that does not parse is a FrameError with a reason, for the quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EVENT, ACK = "2", "3"
PACKET_TYPES = {"0": "connect", "1": "disconnect", "2": "event", "3": "ack", "4": "connect_error",
                "5": "binary_event", "6": "binary_ack"}
DEFAULT_MAX_FRAME_BYTES = 16 << 20  # gameHistory payloads reach ~375 KB; 16 MB is absurd
ACK_EVENT_NAME = "__ack__"


@dataclass(slots=True)
class Frame:
    packet_type: str
    namespace: str
    ack_id: int | None
    event_name: str | None  # None for packets that are not events or acks
    json_text: str  # the JSON part verbatim: what lands in raw_json
    args: list[Any]

    @property
    def payload(self) -> Any:
        return self.args[-1] if self.args else None


@dataclass(slots=True)
class FrameError:
    reason: str


def _ascii_digits(s: str) -> bool:
    return bool(s) and all("0" <= c <= "9" for c in s)  # str.isdigit() accepts '¹'


def parse_frame(text: Any, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame | FrameError:
    if not isinstance(text, str):
        return FrameError(f"not a text frame ({type(text).__name__})")
    if not text:
        return FrameError("empty frame")
    if len(text) > max_bytes:
        return FrameError(f"frame of {len(text)} characters exceeds the {max_bytes} limit")
    ptype = text[0]
    if ptype not in PACKET_TYPES:
        return FrameError(f"unknown packet type {ptype!r}")
    pos = 1
    if ptype in "56":
        dash = text.find("-", pos)
        if dash < 0 or not _ascii_digits(text[pos:dash]):
            return FrameError("binary packet without attachment count")
        pos = dash + 1
    namespace = "/"
    if text.startswith("/", pos):
        comma = text.find(",", pos)
        end = comma if comma >= 0 else len(text)
        namespace = text[pos:end]
        pos = end + 1 if comma >= 0 else end
    digits_end = pos
    while digits_end < len(text) and "0" <= text[digits_end] <= "9":
        digits_end += 1
    ack_id = int(text[pos:digits_end]) if digits_end > pos else None
    json_text = text[digits_end:]
    if ptype not in (EVENT, ACK):
        return Frame(PACKET_TYPES[ptype], namespace, ack_id, None, json_text, [])
    try:
        data = json.loads(json_text)
    except (ValueError, RecursionError) as exc:
        return FrameError(f"invalid JSON: {str(exc)[:120]}")
    if not isinstance(data, list):
        return FrameError(f"{PACKET_TYPES[ptype]} data is {type(data).__name__}, not an array")
    if ptype == ACK:
        return Frame("ack", namespace, ack_id, ACK_EVENT_NAME, json_text, data)
    if not data or not isinstance(data[0], str):
        return FrameError("event array does not start with an event name")
    return Frame("event", namespace, ack_id, data[0], json_text, data[1:])


def envelope_ids(payload: Any) -> tuple[str | None, str | None, str | None]:
    """(game_id, player_id, username) where the payload states them; None otherwise."""
    if not isinstance(payload, dict):
        return None, None, None
    game_id = payload.get("gameId")
    player_id = payload.get("playerId")
    if player_id is None:
        pid = payload.get("id")
        player_id = pid if isinstance(pid, str) and pid.startswith("did:privy:") else None
    username = payload.get("username")
    return (
        game_id if isinstance(game_id, str) else None,
        player_id if isinstance(player_id, str) else None,
        username if isinstance(username, str) else None,
    )


def socketio_args(data: Any) -> list[Any]:
    """A recorded `data` as the server's argument list: a `[trace, payload...]` list is already the
    argument list (trace first); anything else is the single payload argument."""
    if isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0]:
        return list(data)
    return [data]
