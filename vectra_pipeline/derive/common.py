"""Shared pieces of the derivations: the DuckDB connection, the raw files of a date, SQL fragments."""

from __future__ import annotations

import tempfile
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

import duckdb

from vectra_capture.paths import DataPaths

# The payload of a raw ws_event row: last element of the frame array; legacy rows are the record.
PAYLOAD_PATH = "$[#-1]"

# Typed rows keep the envelope; `doc_type` is the typed table's name.
def envelope(doc_type: str, alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return (f"{a}ts, {a}source, '{doc_type}' AS doc_type, {a}session_id, {a}game_id, {a}player_id, "
            f"{a}username, {a}seq, {a}direction")

_TMP = tempfile.gettempdir()


def connect(memory_limit: str = "2GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB, UTC, spilling to the system temp folder (never the data root)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{_TMP}/vectra_duckdb'")
    con.execute("SET preserve_insertion_order = false")
    # in-memory: no durability to buy, and a checkpoint would recompress the big stage table mid-run
    con.execute("SET checkpoint_threshold = '1TB'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def shift(date: str, days: int) -> str:
    return (Date.fromisoformat(date) + timedelta(days=days)).isoformat()


def files(paths: DataPaths, doc_type: str, date: str) -> list[str]:
    part = paths.partition_dir(doc_type, date)
    return sorted(str(p) for p in part.glob("*.parquet")) if part.is_dir() else []


def sql_list(items: list[str]) -> str:
    return "[" + ", ".join("'" + i.replace("'", "''") + "'" for i in items) + "]"


def raw_scan(paths: DataPaths, date: str, valid_only: bool = False) -> str:
    """A FROM-able scan of one date's raw ws_event files (an empty relation when there are none).
    valid_only skips rows whose raw_json is not JSON (the caller counts them)."""
    fs = files(paths, "ws_event", date)
    if not fs:
        return ("(SELECT NULL::TIMESTAMPTZ ts, NULL::VARCHAR source, NULL::VARCHAR session_id, "
                "NULL::VARCHAR game_id, NULL::VARCHAR player_id, NULL::VARCHAR username, NULL::BIGINT seq, "
                "NULL::VARCHAR direction, NULL::VARCHAR raw_json, NULL::VARCHAR event_name WHERE false)")
    scan = f"read_parquet({sql_list(fs)}, union_by_name = true)"
    return f"(SELECT * FROM {scan} WHERE json_valid(raw_json))" if valid_only else scan


def typed_scan(paths: DataPaths, doc_type: str, dates: list[str], columns: str) -> str:
    fs = [f for d in dates for f in files(paths, doc_type, d)]
    if not fs:
        return None  # type: ignore[return-value]
    return f"(SELECT {columns} FROM read_parquet({sql_list(fs)}, union_by_name = true))"


def dec(text_expr: str, dec_sql: str) -> str:
    """A JSON number (extracted as text) as an exact decimal; never through DOUBLE."""
    return f"TRY_CAST({text_expr} AS {dec_sql})"


def exists(path: Path) -> bool:
    return path.exists()
