"""Shared pieces of the derivations: the DuckDB connection, the raw files of a date, SQL fragments."""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import sql_list


# Typed rows keep the envelope; `doc_type` is the typed table's name.
def envelope(doc_type: str, alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    return (f"{a}ts, {a}source, '{doc_type}' AS doc_type, {a}session_id, {a}game_id, {a}player_id, "
            f"{a}username, {a}seq, {a}direction")


def shift(date: str, days: int) -> str:
    return (Date.fromisoformat(date) + timedelta(days=days)).isoformat()


def files(paths: DataPaths, doc_type: str, date: str) -> list[str]:
    part = paths.partition_dir(doc_type, date)
    return sorted(str(p) for p in part.glob("*.parquet")) if part.is_dir() else []


# A lone UTF-16 surrogate escape (half an emoji cut by the sender) makes DuckDB reject the whole row. On
# rows that are not valid JSON, such halves become U+FFFD; valid pairs are parked behind chr(1) first
# (RE2 has no lookahead) and restored after.
def repair_json(col: str = "raw_json") -> str:
    pairs = (f"regexp_replace({col}, '\\\\u([dD][89abAB][0-9a-fA-F]{{2}})\\\\u([dD][c-fC-F][0-9a-fA-F]{{2}})', "
             f"chr(1) || '\\1\\2', 'g')")
    lone = f"regexp_replace({pairs}, '\\\\u[dD][89a-fA-F][0-9a-fA-F]{{2}}', '\\\\ufffd', 'g')"
    fixed = f"regexp_replace({lone}, chr(1) || '([0-9a-fA-F]{{4}})([0-9a-fA-F]{{4}})', '\\\\u\\1\\\\u\\2', 'g')"
    return f"CASE WHEN json_valid({col}) THEN {col} ELSE {fixed} END"


_EMPTY_RAW = ("(SELECT NULL::TIMESTAMPTZ ts, NULL::VARCHAR source, NULL::VARCHAR session_id, "
              "NULL::VARCHAR game_id, NULL::VARCHAR player_id, NULL::VARCHAR username, NULL::BIGINT seq, "
              "NULL::VARCHAR direction, NULL::VARCHAR raw_json, NULL::VARCHAR event_name, "
              "NULL::BIGINT ack_id, NULL::VARCHAR socket_id, NULL::VARCHAR filename WHERE false)")


def raw_scan(paths: DataPaths, date: str, valid_only: bool = False) -> str:
    """A FROM-able scan of one date's raw ws_event files (an empty relation when there are none), with
    the source file's name (`filename`: rows of overlapping files are told apart by it).
    valid_only: lone surrogate escapes repaired, rows still not JSON skipped (see invalid_rows)."""
    fs = files(paths, "ws_event", date)
    if not fs:
        return _EMPTY_RAW
    # unioned by name with the empty relation: files written before schema v3 lack ack_id / socket_id
    scan = (f"(SELECT * FROM read_parquet({sql_list(fs)}, union_by_name = true, filename = true) "
            f"UNION ALL BY NAME SELECT * FROM {_EMPTY_RAW})")
    if not valid_only:
        return scan
    return (f"(SELECT * FROM (SELECT * REPLACE ({repair_json()} AS raw_json) FROM {scan}) "
            f"WHERE json_valid(raw_json))")


def invalid_rows(paths: DataPaths, date: str) -> str:
    """event_name of the rows of `date` that are not JSON even after repair_json."""
    fs = files(paths, "ws_event", date)
    if not fs:
        return "(SELECT NULL::VARCHAR event_name WHERE false)"
    scan = f"read_parquet({sql_list(fs)}, union_by_name = true)"
    return (f"(SELECT event_name FROM (SELECT event_name, {repair_json()} AS raw_json FROM {scan}) "
            f"WHERE NOT json_valid(raw_json))")


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
