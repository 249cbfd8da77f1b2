"""Derive one typed table for one UTC date and write it as that date's single partition file."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from vectra_capture.store.layout import DataPaths
from vectra_capture.store.partitions import delete_partition, replace_partition_batches
from vectra_capture.store.remote_path import arrow_source
from vectra_pipeline.derive import complete_game, game_tick, games, player_action, server_state
from vectra_pipeline.derive.common import files, invalid_rows, raw_scan, shift
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS
from vectra_pipeline.derive.stage import ensure_stage, raw_duplicates, with_tail
from vectra_pipeline.duck import connect

log = logging.getLogger(__name__)

# The order a full derivation runs in (games reads the other typed tables).
TABLES = ("game_tick", "player_action", "server_state", "complete_game", "games")
_RAW_PREPARE = {"game_tick": game_tick.prepare, "player_action": player_action.prepare,
                "server_state": server_state.prepare}
# The table a raw row that is not JSON is counted against (its event's main typed table).
OWN_EVENTS = {"game_tick": game_tick.EVENTS, "player_action": player_action.EVENTS,
              "server_state": server_state.EVENTS}


@dataclass
class DeriveResult:
    table: str
    date: str
    rows_in: int = 0
    rows_out: int = 0
    duplicates_dropped: int = 0
    model_failures: int = 0
    seconds: float = 0.0
    path: Path | None = None
    extra: dict = field(default_factory=dict)
    preview: list[dict] = field(default_factory=list)  # the first rows written, for the asset's metadata

    def metadata(self) -> dict:
        return {"rows_in": self.rows_in, "rows_out": self.rows_out, "duplicates_dropped": self.duplicates_dropped,
                "model_failures": self.model_failures, "seconds": round(self.seconds, 3), **self.extra}


def _prepare(con: duckdb.DuckDBPyConnection, paths: DataPaths, table: str, date: str, guard: bool):
    raw = raw_scan(paths, date, valid_only=guard)
    if table != "games":
        tail = with_tail(raw, raw_scan(paths, shift(date, -1), valid_only=guard), date)
        ensure_stage(con, tail, f"{paths.root}|{date}|{guard}")
    if table in _RAW_PREPARE:
        return _RAW_PREPARE[table](con, raw)
    if table == "complete_game":
        return complete_game.prepare(con, raw, raw_scan(paths, shift(date, -1), valid_only=guard), date)
    return games.prepare(con, paths, date)


def _has_input(paths: DataPaths, table: str, date: str) -> bool:
    if table == "games":
        return bool(files(paths, "game_tick", date) or files(paths, "complete_game", date))
    return bool(files(paths, "ws_event", date))


def _derive_into(con: duckdb.DuckDBPyConnection, paths: DataPaths, table: str, date: str,
                 result: DeriveResult) -> None:
    try:
        stats, final = _prepare(con, paths, table, date, guard=False)
    except duckdb.InvalidInputException as exc:  # a raw row that is not JSON: retry repairing or skipping such rows
        log.warning("%s %s: %s; retrying with json_valid guards", table, date, str(exc)[:200])
        stats, final = _prepare(con, paths, table, date, guard=True)
        owned = ", ".join(f"'{e}'" for e in OWN_EVENTS.get(table, ()))
        (invalid,) = con.execute(f"SELECT count(*) FROM {invalid_rows(paths, date)} WHERE event_name IN ({owned})"
                                 ).fetchall()[0] if owned else (0,)
        stats["model_failures"] += invalid  # counted by the table the event belongs to; they stay in raw
        stats["rows_in"] += invalid
        stats["invalid_json_rows"] = invalid
    schema = TYPED_SCHEMAS[table]
    reader = con.sql(final).to_arrow_reader(16_384)  # ~130 MB of raw_json per batch at most
    path, rows = replace_partition_batches(paths, table, date, schema, reader)
    result.path = path
    for key in ("rows_in", "rows_out", "duplicates_dropped", "model_failures"):
        setattr(result, key, int(stats.pop(key)))
    result.extra = stats
    if table != "games":
        result.extra["raw_duplicates"] = raw_duplicates(con)
    if rows != result.rows_out:  # a join that multiplied or lost rows: never publish it quietly
        raise RuntimeError(f"{table} {date}: wrote {rows} rows, the derivation counted {result.rows_out}")
    cols = [c for c in schema.names if c not in ("raw_json", "doc_type", "direction", "source", "session_id",
                                                  "prices")][:9]
    first = next(pq.ParquetFile(arrow_source(path)).iter_batches(batch_size=5, columns=cols), None)
    result.preview = first.to_pylist() if first is not None else []


def derive_table(con: duckdb.DuckDBPyConnection, paths: DataPaths, table: str, date: str) -> DeriveResult:
    """Replace `table`'s partition for `date` with a fresh derivation (rerun = same rows). One
    connection serves every table of a date: the first one stages the date's raw JSON for the rest."""
    started = time.perf_counter()
    result = DeriveResult(table, date)
    if not _has_input(paths, table, date):
        delete_partition(paths, table, date)
        result.seconds = time.perf_counter() - started
        return result
    _derive_into(con, paths, table, date, result)
    result.seconds = time.perf_counter() - started
    return result


def derive_date(paths: DataPaths, date: str, tables: tuple[str, ...] = TABLES) -> list[DeriveResult]:
    with connect() as con:
        return [derive_table(con, paths, t, date) for t in tables]
