"""Canonical Parquet back out as JSONL: <output>/<doc_type>/<date>.jsonl, one object per row.

Values keep their exact form: timestamps as ISO-8601 UTC, decimals as their exact text, binary as
base64, raw_json as the original string. Rows are ordered by (ts, session_id, seq) so an export is
deterministic. Files are written through the store's atomic_writer (whole or not at all).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import time
from pathlib import Path
from typing import Any

from vectra_capture.paths import DataPaths

_SORT_KEYS = ("ts", "session_id", "seq")


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


def export_jsonl(
    paths: DataPaths, output: Path, doc_types: list[str] | None = None, on_partition: Any = None
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vectra_capture.store import atomic_writer

    started = time.perf_counter()
    written: list[dict[str, Any]] = []
    parts = partitions(paths, doc_types)
    for doc_type, date, files in parts:
        table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
        keys = [(k, "ascending") for k in _SORT_KEYS if k in table.column_names]
        if keys:
            table = table.sort_by(keys)
        target = output / doc_type / f"{date}.jsonl"
        with atomic_writer(target) as fh:
            for batch in table.to_batches(max_chunksize=10_000):
                fh.write("".join(
                    json.dumps(row, default=_default, ensure_ascii=False, separators=(",", ":")) + "\n"
                    for row in batch.to_pylist()
                ).encode())
        written.append({"doc_type": doc_type, "date": date, "rows": table.num_rows, "path": str(target)})
        if on_partition:
            on_partition(written[-1])
    return {
        "files": len(written),
        "rows": sum(w["rows"] for w in written),
        "output": str(output),
        "seconds": round(time.perf_counter() - started, 3),
        "partitions": written,
    }
