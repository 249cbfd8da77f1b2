"""The one Engine.IO v4 / Socket.IO v5 frame decoder, for every capture source (the socket client,
the browser's sockets through CDP). Pure: no I/O, never raises.

`FrameDecoder.feed` takes ONE WebSocket message (text, undecoded text bytes, or binary) and returns
what it holds, each item one of:
- `Frame`: an event or ack (`42`, `43`, or a `45`/`46` binary packet once its attachments arrived):
  a ws_event row. `json_text` is the JSON array verbatim (what lands in raw_json), with the
  namespace and ack id kept aside.
- `Control`: an Engine.IO control packet (open `0`, close `1`, ping `2`, pong `3`, upgrade `5`,
  noop `6`) or a Socket.IO connect / disconnect / connect_error: counted, not stored as events.
- `Quarantined`: the message's bytes and the reason it is not a row (invalid UTF-8, empty, unknown
  packet type, bad JSON, over the size limit, a binary packet whose attachments never came...).
A binary packet's header returns nothing until its last attachment arrives; `flush` quarantines a
packet still waiting (the socket closed).

Binary events in raw_json: the header's array verbatim, each `{"_placeholder":true,"num":N}` object
completed in place with `"base64":"<attachment N, standard base64>"`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

EIO_TYPES = {"0": "open", "1": "close", "2": "ping", "3": "pong", "4": "message", "5": "upgrade", "6": "noop"}
PACKET_TYPES = {"0": "connect", "1": "disconnect", "2": "event", "3": "ack", "4": "connect_error",
                "5": "binary_event", "6": "binary_ack"}
EVENT, ACK, BINARY_EVENT, BINARY_ACK = "2", "3", "5", "6"
DEFAULT_MAX_FRAME_BYTES = 64 << 20  # gameHistory payloads reach ~375 KB; 64 MiB is far beyond any real frame
QUARANTINE_HEAD_BYTES = 64 << 10  # what is kept of a frame over the limit
MAX_ATTACHMENTS = 1000
MAX_ACK_ID = 2**63 - 1  # the ack_id column is int64
ACK_EVENT_NAME = "__ack__"

_PLACEHOLDER = re.compile(r'\{\s*"_placeholder"\s*:\s*true\s*,\s*"num"\s*:\s*(\d+)\s*\}'
                          r'|\{\s*"num"\s*:\s*(\d+)\s*,\s*"_placeholder"\s*:\s*true\s*\}')
# The event name at the head of a message too big to decode: 4 + type [+ n-] [+ /nsp,] [+ ack id] + ["name"
_HEAD_NAME = re.compile(r'4[25](?:\d+-)?(?:/[^,]*,)?\d*\[\s*("(?:[^"\\]|\\.)*")')


@dataclass(slots=True)
class Frame:
    packet_type: str  # event | ack | binary_event | binary_ack (connect... only from parse_frame)
    namespace: str | None  # as written in the packet; None when it names none (the default "/")
    ack_id: int | None
    event_name: str | None  # None for packets that are not events or acks
    json_text: str  # the JSON part verbatim: what lands in raw_json
    args: list[Any]
    attachments: int = 0  # binary packets: how many binary messages follow the header

    @property
    def payload(self) -> Any:
        return self.args[-1] if self.args else None


@dataclass(slots=True)
class FrameError:
    reason: str


@dataclass(slots=True)
class Control:
    kind: str  # open close ping pong upgrade noop (Engine.IO) | connect disconnect connect_error (Socket.IO)
    text: str  # the message verbatim (a connect_error's cause is in it)


@dataclass(slots=True)
class Quarantined:
    raw: bytes
    reason: str
    event_name: str | None = None


Decoded = Frame | Control | Quarantined


def _ascii_digits(s: str) -> bool:
    return bool(s) and all("0" <= c <= "9" for c in s)  # str.isdigit() accepts '¹'


def parse_frame(text: Any, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame | FrameError:
    """One Socket.IO packet (`<type>[<n>-][/<namespace>,][<ack id>]<json>`, no Engine.IO prefix)."""
    if not isinstance(text, str):
        return FrameError(f"not a text frame ({type(text).__name__})")
    if not text:
        return FrameError("empty Socket.IO packet")
    if len(text) > max_bytes:
        return FrameError(f"frame of {len(text)} characters exceeds the {max_bytes} limit")
    ptype = text[0]
    if ptype not in PACKET_TYPES:
        return FrameError(f"unknown packet type {ptype!r} (Socket.IO)")
    pos, attachments = 1, 0
    if ptype in (BINARY_EVENT, BINARY_ACK):
        dash = text.find("-", pos)
        if dash < 0 or not _ascii_digits(text[pos:dash]):
            return FrameError("binary packet without attachment count")
        attachments = int(text[pos:dash])
        if attachments > MAX_ATTACHMENTS:
            return FrameError(f"binary packet announces {attachments} attachments (more than {MAX_ATTACHMENTS})")
        pos = dash + 1
    namespace = None
    if text.startswith("/", pos):
        comma = text.find(",", pos)
        end = comma if comma >= 0 else len(text)
        namespace = text[pos:end]
        pos = end + 1 if comma >= 0 else end
    digits_end = pos
    while digits_end < len(text) and "0" <= text[digits_end] <= "9":
        digits_end += 1
    ack_id = int(text[pos:digits_end]) if digits_end > pos else None
    if ack_id is not None and ack_id > MAX_ACK_ID:
        return FrameError(f"ack id {text[pos:digits_end][:40]} out of the int64 range")
    json_text = text[digits_end:]
    name = PACKET_TYPES[ptype]
    if not json_text and ptype not in (EVENT, ACK, BINARY_EVENT, BINARY_ACK):
        return Frame(name, namespace, ack_id, None, json_text, [])
    try:
        data = json.loads(json_text)
    except (ValueError, RecursionError) as exc:
        return FrameError(f"invalid JSON: {str(exc)[:120]}")
    if ptype not in (EVENT, ACK, BINARY_EVENT, BINARY_ACK):
        return Frame(name, namespace, ack_id, None, json_text, [])
    if not isinstance(data, list):
        return FrameError(f"{name} data is {type(data).__name__}, not an array")
    if ptype in (ACK, BINARY_ACK):
        return Frame(name, namespace, ack_id, ACK_EVENT_NAME, json_text, data, attachments)
    if not data or not isinstance(data[0], str):
        return FrameError("event array does not start with an event name")
    return Frame(name, namespace, ack_id, data[0], json_text, data[1:], attachments)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    return str(data).encode("utf-8", "surrogatepass")


def _utf8_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def name_from_head(head: bytes) -> str | None:
    """The event name of a (cut) event message, when its head states it."""
    m = _HEAD_NAME.match(head.decode("utf-8", "replace"))
    if not m:
        return None
    try:
        return json.loads(m.group(1))
    except ValueError:
        return None


@dataclass
class _PendingBinary:
    header: Frame
    raw: bytes  # the header message verbatim
    attachments: list[bytes] = field(default_factory=list)


class FrameDecoder:
    """One per socket and direction: a binary packet's header waits here for its attachments."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._pending: _PendingBinary | None = None

    def feed(self, data: str | bytes, *, text: bool | None = None) -> list[Decoded]:
        """One WebSocket message. `str` is a text message; `bytes` is binary unless `text=True`
        (a text message not yet decoded: invalid UTF-8 is quarantined, not fatal)."""
        try:
            return self._feed(data, isinstance(data, str) or bool(text))
        except Exception as exc:  # a decoder bug must cost one message, never the connection
            pending, self._pending = self._pending, None
            out = _quarantine_binary(pending, "was cut short by a decoder error") if pending else []
            return [*out, Quarantined(_as_bytes(data), f"decoder error: {type(exc).__name__}: {exc}")]

    def feed_packet(self, data: str | bytes) -> list[Decoded]:
        """One Engine.IO message payload as python-engineio hands it over (long-polling, or a packet
        the client sends): a Socket.IO packet (str) or a binary attachment (bytes)."""
        return self.feed("4" + data) if isinstance(data, str) else self.feed(data, text=False)

    def flush(self, why: str = "the socket closed") -> list[Decoded]:
        """Quarantine a binary packet still waiting for attachments."""
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        return _quarantine_binary(
            pending, f"got {len(pending.attachments)} of its {pending.header.attachments} attachments before {why}")

    # -- one message ---------------------------------------------------------------------------
    def _feed(self, data: str | bytes, is_text: bool) -> list[Decoded]:
        size = _utf8_size(data) if isinstance(data, str) else len(data)
        if size > self.max_frame_bytes:
            return self._oversize(data, size, is_text)
        if not is_text:
            return self._binary(_as_bytes(data))
        out = self.flush("a text message") if self._pending else []
        if isinstance(data, str):
            message = data
        else:
            try:
                message = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                return [*out, Quarantined(bytes(data), f"text message is not valid UTF-8: {exc}")]
        if not message:
            return [*out, Quarantined(b"", "empty Engine.IO message")]
        kind = EIO_TYPES.get(message[0])
        if kind is None:
            return [*out, Quarantined(_as_bytes(message), f"unknown packet type {message[0]!r} (Engine.IO)")]
        if kind != "message":
            return [*out, Control(kind, message)]
        return [*out, *self._packet(message)]

    def _packet(self, message: str) -> list[Decoded]:
        parsed = parse_frame(message[1:], self.max_frame_bytes)
        if isinstance(parsed, FrameError):
            raw = _as_bytes(message)
            return [Quarantined(raw, parsed.reason, name_from_head(raw[:QUARANTINE_HEAD_BYTES]))]
        if parsed.event_name is None:
            return [Control(parsed.packet_type, message)]
        if parsed.packet_type in ("binary_event", "binary_ack"):
            self._pending = _PendingBinary(parsed, _as_bytes(message))
            return self._complete() if parsed.attachments == 0 else []
        return [parsed]

    def _binary(self, data: bytes) -> list[Decoded]:
        pending = self._pending
        if pending is None:
            return [Quarantined(data, "not a text frame: binary message with no binary packet awaiting attachments")]
        pending.attachments.append(data)
        return self._complete() if len(pending.attachments) == pending.header.attachments else []

    def _oversize(self, data: str | bytes, size: int, is_text: bool) -> list[Decoded]:
        head = _as_bytes(data[:QUARANTINE_HEAD_BYTES])[:QUARANTINE_HEAD_BYTES]
        out = self.flush("a text message" if is_text else "an attachment over the size limit") if self._pending else []
        name = name_from_head(head) if is_text else None
        what = f"event {name!r}" if name else ("text message" if is_text else "binary message")
        reason = (f"{what} of {size} bytes exceeds the {self.max_frame_bytes}-byte frame limit "
                  f"(--max-frame-bytes); first {len(head)} bytes kept")
        return [*out, Quarantined(head, reason, name)]

    def _complete(self) -> list[Decoded]:
        pending, self._pending = self._pending, None
        assert pending is not None
        h = pending.header
        total = len(pending.raw) + sum(len(a) for a in pending.attachments)
        if total > self.max_frame_bytes:
            return _quarantine_binary(pending, f"is {total} bytes with its attachments, over the "
                                               f"{self.max_frame_bytes}-byte frame limit (--max-frame-bytes)")
        try:
            json_text, data = _splice_attachments(h.json_text, pending.attachments)
        except (ValueError, RecursionError) as exc:
            return _quarantine_binary(pending, f"could not be assembled: {exc}")
        if h.packet_type == "binary_ack":
            return [Frame(h.packet_type, h.namespace, h.ack_id, ACK_EVENT_NAME, json_text, data, h.attachments)]
        return [Frame(h.packet_type, h.namespace, h.ack_id, h.event_name, json_text, data[1:], h.attachments)]


def _quarantine_binary(pending: _PendingBinary, problem: str) -> list[Decoded]:
    """The header and each attachment, as received, one quarantine record per message."""
    h = pending.header
    what = f"{h.packet_type} {h.event_name!r}" if h.packet_type == "binary_event" else h.packet_type
    return [Quarantined(pending.raw, f"{what} {problem}", h.event_name),
            *(Quarantined(a, f"attachment {i} of {what}, which {problem}", h.event_name)
              for i, a in enumerate(pending.attachments))]


def _splice_attachments(json_text: str, attachments: list[bytes]) -> tuple[str, list[Any]]:
    """The header array with each placeholder completed by its attachment's base64, verbatim where
    the placeholders have the standard form; re-serialised otherwise (then numbers may be re-spelled)."""
    encoded = [base64.b64encode(a).decode("ascii") for a in attachments]
    nums: list[int] = []

    def fill(value: Any) -> Any:
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            num = value.get("num")
            if value.keys() == {"_placeholder", "num"} and value["_placeholder"] is True and type(num) is int:
                if not 0 <= num < len(encoded):
                    raise ValueError(f"placeholder num {num} but {len(encoded)} attachments")
                nums.append(num)
                return {**value, "base64": encoded[num]}
            return {k: fill(v) for k, v in value.items()}
        return value

    data = fill(json.loads(json_text))
    unused = sorted(set(range(len(encoded))) - set(nums))
    if unused:
        raise ValueError(f"attachments {unused} unused by any placeholder")
    matches = list(_PLACEHOLDER.finditer(json_text))
    if [int(m.group(1) or m.group(2)) for m in matches] != nums:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")), data
    parts, pos = [], 0
    for m, num in zip(matches, nums, strict=True):
        parts += [json_text[pos:m.end() - 1], f',"base64":"{encoded[num]}"}}']
        pos = m.end()
    parts.append(json_text[pos:])
    return "".join(parts), data


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
