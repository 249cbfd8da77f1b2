"""Store primitives for the vector side: drop a (possibly corrupt) LanceDB table folder, land a note,
keep the per-raw-file protocol statistics cache.

A table LanceDB can no longer open cannot be dropped through LanceDB itself, so `--full` removes its
folder here. Notes are canonical data: they land as Parquet (doc_type=debug_note) before any index.
The protocol statistics cache (vectors/_protocol_stats/<name>.parquet, one small file per raw ws_event
file) is derived and disposable: deleting it only makes the next events build rescan the raw files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from vectra_capture.envelope import ENVELOPE_FIELDS
from vectra_capture.paths import DataPaths
from vectra_capture.store.atomic import atomic_write_table, ensure_dir, remove_file
from vectra_capture.store.partitions import write_partition_file

DEBUG_NOTE = "debug_note"
DEBUG_NOTE_SCHEMA = pa.schema([*ENVELOPE_FIELDS, pa.field("text", pa.string(), nullable=False)])


def remove_vector_table(paths: DataPaths, name: str) -> bool:
    """Delete vectors/<name>.lance entirely; True if it existed."""
    folder = paths.vectors / f"{name}.lance"
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True


def protocol_stats_dir(paths: DataPaths) -> Path:
    return paths.vectors / "_protocol_stats"


def write_protocol_stats(paths: DataPaths, name: str, table: pa.Table) -> Path:
    """Atomically (re)write one cached statistics file."""
    path = ensure_dir(protocol_stats_dir(paths)) / f"{name}.parquet"
    atomic_write_table(path, table)
    return path


def remove_protocol_stats(paths: DataPaths, name: str) -> bool:
    return remove_file(protocol_stats_dir(paths) / f"{name}.parquet")


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
