"""Helpers for capture tests: reading what landed, writing synthetic recordings."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from vectra_capture.store.layout import DataPaths


def rows(paths: DataPaths, doc_type: str, columns: str = "*", where: str = "true") -> list[tuple]:
    """Rows of one doc_type via DuckDB over the Parquet glob (every file must be readable)."""
    if not list(paths.doc_type_dir(doc_type).glob("date=*/*.parquet")):
        return []
    con = duckdb.connect()
    return con.execute(
        f"select {columns} from read_parquet('{paths.glob(doc_type)}', hive_partitioning=true, union_by_name=true) "
        f"where {where} order by ts, seq"
    ).fetchall()


def write_numbered_capture(path: Path, count: int, start: datetime, interval: float,
                           event_name: str = "standard/newTrade") -> None:
    """A raw-capture recording whose events carry a unique `n`, so each can be traced end to end."""
    with open(path, "w") as fh:
        for n in range(count):
            ts = (start + timedelta(seconds=n * interval)).isoformat()
            data = [{"__trace": True, "traceparent": f"00-{n:032x}-{n:016x}-01"},
                    {"id": f"trade-{n}", "n": n, "gameId": "20251207-00000000000000aa", "price": 1.0 + n / 1000}]
            fh.write(json.dumps({"seq": n, "ts": ts, "event": event_name, "data": data}) + "\n")
