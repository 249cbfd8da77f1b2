"""The envelope every Parquet row carries, as Arrow schemas, and RawRecord, its in-process form."""

from __future__ import annotations

import pyarrow as pa

TS_TYPE = pa.timestamp("us", tz="UTC")

ENVELOPE_FIELDS: list[pa.Field] = [
    pa.field("ts", TS_TYPE, nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("doc_type", pa.string(), nullable=False),
    pa.field("session_id", pa.string(), nullable=False),
    pa.field("game_id", pa.string()),
    pa.field("player_id", pa.string()),
    pa.field("username", pa.string()),
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("direction", pa.string(), nullable=False),
    pa.field("raw_json", pa.string(), nullable=False),
]
ENVELOPE_SCHEMA = pa.schema(ENVELOPE_FIELDS)

# ws_event: raw_json is the Socket.IO event array exactly as received: [event_name, ...args]
# (the payload is the last argument, a trace object may precede it; an ack's array holds its
# arguments and event_name is "__ack__"; binary attachments: see vectra_capture/frames.py).
# origin_* say where a replayed/imported row came from (file, line); they are null for live capture.
# namespace / ack_id (schema v2): the packet's `/nsp,` and ack id, null when it states none (a request
# `42<id>[...]` and the ack `43<id>[...]` answering it share the id). socket_id (schema v3): which
# socket carried the frame, the browser's CDP request id for source `cdp`, null otherwise. Files
# written before a column was added lack it: read them with union_by_name.
WS_EVENT_SCHEMA = pa.schema(
    [
        *ENVELOPE_FIELDS,
        pa.field("event_name", pa.string(), nullable=False),
        pa.field("origin_file", pa.string()),
        pa.field("origin_line", pa.int64()),
        pa.field("namespace", pa.string()),
        pa.field("ack_id", pa.int64()),
        pa.field("socket_id", pa.string()),
    ]
)

# system_event: the daemon's own lifecycle; raw_json holds the details object.
SYSTEM_EVENT_SCHEMA = pa.schema([*ENVELOPE_FIELDS, pa.field("event_name", pa.string(), nullable=False)])

# Quarantine rows: what could not be parsed, with the original bytes and why.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("ts", TS_TYPE, nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw", pa.binary(), nullable=False),
    ]
)

RAW_SCHEMAS: dict[str, pa.Schema] = {"ws_event": WS_EVENT_SCHEMA, "system_event": SYSTEM_EVENT_SCHEMA}

SOURCES = ("cdp", "public_ws", "replay", "ui")
DIRECTIONS = ("received", "sent")


# The in-process form of one row, as the capture path hands it to the store.
QUARANTINE = "quarantine"


class RawRecord:
    """One envelope row (or a quarantine record when doc_type == QUARANTINE).

    A plain __slots__ class rather than a dataclass: the capture path builds one per frame.
    `raw` is bytes: the verbatim frame text for ws_event, a JSON details object for
    system_event, the original bytes for quarantine.
    """

    __slots__ = (
        "doc_type", "ts_us", "seq", "source", "session_id", "direction", "raw", "event_name",
        "game_id", "player_id", "username", "origin_file", "origin_line", "reason", "namespace", "ack_id",
        "socket_id",
    )

    def __init__(
        self,
        doc_type: str,
        ts_us: int,
        seq: int,
        source: str,
        session_id: str,
        raw: bytes,
        *,
        direction: str = "received",
        event_name: str | None = None,
        game_id: str | None = None,
        player_id: str | None = None,
        username: str | None = None,
        origin_file: str | None = None,
        origin_line: int | None = None,
        reason: str | None = None,
        namespace: str | None = None,
        ack_id: int | None = None,
        socket_id: str | None = None,
    ) -> None:
        self.doc_type = doc_type
        self.ts_us = ts_us
        self.seq = seq
        self.source = source
        self.session_id = session_id
        self.direction = direction
        self.raw = raw
        self.event_name = event_name
        self.game_id = game_id
        self.player_id = player_id
        self.username = username
        self.origin_file = origin_file
        self.origin_line = origin_line
        self.reason = reason
        self.namespace = namespace
        self.ack_id = ack_id
        self.socket_id = socket_id

    def header(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__ if k != "raw" and getattr(self, k) is not None}

    @classmethod
    def from_header(cls, header: dict, raw: bytes) -> RawRecord:
        fields = dict(header)
        return cls(
            fields.pop("doc_type"), fields.pop("ts_us"), fields.pop("seq"), fields.pop("source"),
            fields.pop("session_id"), raw, **fields,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawRecord) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    def __repr__(self) -> str:
        return f"RawRecord({self.doc_type}, seq={self.seq}, event={self.event_name}, {len(self.raw)} B)"
