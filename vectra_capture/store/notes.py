"""Debug notes are canonical data: each lands as its own Parquet file (doc_type=debug_note) before
any index reads it."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from vectra_capture.store.envelope import ENVELOPE_FIELDS
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.partitions import write_partition_file

DEBUG_NOTE = "debug_note"
DEBUG_NOTE_SCHEMA = pa.schema([*ENVELOPE_FIELDS, pa.field("text", pa.string(), nullable=False)])


def write_debug_note(paths: DataPaths, text: str, now: datetime | None = None) -> Path:
    """One note, one file: debug_note/date=<UTC date>/note-<sha1[:16]>.parquet (same note, same file)."""
    ts = now or datetime.now(UTC)
    digest = hashlib.sha1(f"{ts.isoformat()}\n{text}".encode()).hexdigest()[:16]
    row = {
        "ts": [ts], "source": ["ui"], "doc_type": [DEBUG_NOTE],
        "session_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-note:" + digest))],
        "game_id": [None], "player_id": [None], "username": [None], "seq": [0], "direction": ["sent"],
        "raw_json": [json.dumps({"text": text}, ensure_ascii=False)], "text": [text],
    }
    table = pa.Table.from_pydict(row, schema=DEBUG_NOTE_SCHEMA)
    return write_partition_file(paths, DEBUG_NOTE, ts.strftime("%Y-%m-%d"), f"note-{digest}.parquet", table)
