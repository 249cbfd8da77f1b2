"""Per raw ws_event file: the protocol statistics of each event name (count, directions, array payloads,
key -> JSON type -> count) and its first/last ts.

The statistics are the vector index's own (`compute_file_stats`, one scan per file) and share its on-disk
cache (vectors/_protocol_stats/, written through the store): a file the index has already read is not
parsed again here, and a file read here is not parsed again by the next index build. A cached file is
used only when it names the same raw file, size and mtime; anything else is recomputed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.index_cache import protocol_stats_dir, write_protocol_stats
from vectra_capture.store.layout import DataPaths
from vectra_pipeline import duck
from vectra_pipeline.duck import sql_list
from vectra_pipeline.index.docs.protocol import STATS_SCHEMA_FIELDS, compute_file_stats

_TYPES = {"string": pa.string(), "int64": pa.int64(), "list<string>": pa.list_(pa.string())}
STATS_SCHEMA = pa.schema([(n, _TYPES[t]) for n, t in STATS_SCHEMA_FIELDS])


def _cache_file(paths: DataPaths, key: str) -> Path:
    return protocol_stats_dir(paths) / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.parquet"


def _cached(paths: DataPaths, key: str, path: Path) -> list[dict] | None:
    cache = _cache_file(paths, key)
    try:
        rows = pq.read_table(cache).to_pylist()
        st = path.stat()
    except (OSError, pa.ArrowException):
        return None
    if rows and rows[0].get("file") == key and rows[0].get("size") == st.st_size \
            and rows[0].get("mtime_ns") == st.st_mtime_ns:
        return rows
    return None


def compute(paths: DataPaths, files: list[Path]) -> dict[Path, list[dict]]:
    """{raw file: one row per event name, with `range` = (first ts, last ts)}."""
    keyed = {p.relative_to(paths.root).as_posix(): p for p in files}
    per_file: dict[str, list[dict]] = {}
    todo: dict[str, Path] = {}
    for key, path in keyed.items():
        rows = _cached(paths, key, path)
        if rows is None:
            todo[key] = path
        else:
            per_file[key] = rows
    con = duck.connect(memory_limit="1GB")
    try:
        if todo:
            for key, rows in compute_file_stats(paths, con, todo).items():
                per_file[key] = rows
                write_protocol_stats(paths, _cache_file(paths, key).stem, pa.Table.from_pylist(rows, schema=STATS_SCHEMA))
        ranges = {(Path(f), name): (lo, hi) for f, name, lo, hi in con.execute(
            f"SELECT filename, event_name, min(ts), max(ts) FROM read_parquet({sql_list(files)}, "
            f"union_by_name = true, filename = true) GROUP BY 1, 2").fetchall()}
    finally:
        con.close()
    out: dict[Path, list[dict]] = {}
    for key, rows in per_file.items():
        path = keyed[key]
        out[path] = [{**r, "range": ranges.get((path, r["event_name"]))} for r in rows if r["event_name"]]
    return out
