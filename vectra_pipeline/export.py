"""Canonical Parquet back out as JSONL: <output>/<doc_type>/<date>.jsonl, one object per row.

Values keep their exact form: timestamps as ISO-8601 UTC, decimals as their exact text, binary as
base64, raw_json as the original string. Rows are ordered by (ts, session_id, seq) so an export is
deterministic. A partition is streamed: DuckDB reads and sorts its Parquet files (spilling to the temp
folder when needed) and yields record batches written line by line, so memory stays bounded however
big the day is. Files are written through the store's atomic_writer (whole or not at all).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import time
from pathlib import Path
from typing import Any

from vectra_capture.store import DataPaths, atomic_writer
from vectra_pipeline import duck
from vectra_pipeline.duck import sql_list

_SORT_KEYS = ("ts", "session_id", "seq")
_BATCH_ROWS = 10_000
_MEMORY_LIMIT = "1GB"  # the sort spills beyond this; batches of JSON text stay small


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def partitions(paths: DataPaths, doc_types: list[str] | None = None) -> list[tuple[str, str, list[Path]]]:
    """(doc_type, date, parquet files) for every partition present."""
    out = []
    for tdir in sorted(paths.events_parquet.glob("doc_type=*")):
        doc_type = tdir.name.split("=", 1)[1]
        if doc_types and doc_type not in doc_types:
            continue
        for ddir in sorted(tdir.glob("date=*")):
            files = sorted(ddir.glob("*.parquet"))
            if files:
                out.append((doc_type, ddir.name.split("=", 1)[1], files))
    return out


def _write_partition(con: Any, files: list[Path], target: Path) -> int:
    """Stream one partition, sorted, into `target`; returns the row count. DuckDB sorts (spilling to
    disk when the day is bigger than memory) and hands over record batches, so a 3-5 GB day is never
    held whole. file name + row number break ties the way a stable sort of the files in order would."""
    options = "union_by_name = true, hive_partitioning = false, filename = true, file_row_number = true"
    src = f"read_parquet({sql_list(files)}, {options})"
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    data_cols = [c for c in columns if c not in ("filename", "file_row_number")]
    order = [f'"{k}"' for k in _SORT_KEYS if k in data_cols] + ["filename", "file_row_number"]
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in data_cols)
    reader = con.sql(f"SELECT {select} FROM {src} ORDER BY {', '.join(order)}").to_arrow_reader(_BATCH_ROWS)
    rows = 0
    with atomic_writer(target) as fh:
        for batch in reader:
            rows += batch.num_rows
            fh.write("".join(
                json.dumps(row, default=_default, ensure_ascii=False, separators=(",", ":")) + "\n"
                for row in batch.to_pylist()
            ).encode())
    return rows


def export_jsonl(
    paths: DataPaths, output: Path, doc_types: list[str] | None = None, on_partition: Any = None
) -> dict[str, Any]:
    started = time.perf_counter()
    written: list[dict[str, Any]] = []
    parts = partitions(paths, doc_types)
    con = duck.connect(memory_limit=_MEMORY_LIMIT)
    try:
        for doc_type, date, files in parts:
            target = output / doc_type / f"{date}.jsonl"
            rows = _write_partition(con, files, target)
            written.append({"doc_type": doc_type, "date": date, "rows": rows, "path": str(target)})
            if on_partition:
                on_partition(written[-1])
    finally:
        con.close()
    return {
        "files": len(written),
        "rows": sum(w["rows"] for w in written),
        "output": str(output),
        "seconds": round(time.perf_counter() - started, 3),
        "partitions": written,
    }
