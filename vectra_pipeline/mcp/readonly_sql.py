"""Read-only SQL for assistants: query.py's views (one per doc_type, plus a `payload` column), on a
DuckDB connection that can read nothing but the data root's Parquet, with a time limit and a capped,
JSON-safe result.

The lock-down is DuckDB's own: once the views exist, `allowed_directories` is the events_parquet
folder, `enable_external_access` is off and `lock_configuration` is on, so even a statement that
slipped past sql_guard.py could not read /etc, write a file, attach a database or change a setting.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import math
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import duckdb
from pydantic import BaseModel

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import PAYLOAD_PATH, quote
from vectra_pipeline.mcp.sql_guard import SQLRefused, check
from vectra_pipeline.query import SCHEMAS, Query

log = logging.getLogger(__name__)

VIEWS: tuple[str, ...] = tuple(SCHEMAS)  # ws_event, system_event, game_tick, server_state, ...
DEFAULT_TIMEOUT_S = 20.0
MAX_LIMIT = 10_000
MAX_CELL_CHARS = 8_000  # a gameStateUpdate frame with gameHistory is ~300 KB
MAX_RESULT_CHARS = 1_000_000  # what one answer may carry, whatever the row limit
MEMORY_LIMIT = "1GB"

# The payload of any row: the last element of a frame array (ws_event; typed rows keep their frame),
# the object itself otherwise (system_event details, complete_game entries, legacy records); NULL when
# raw_json is not JSON (such raw rows are counted by the derivation, not hidden).
PAYLOAD_SQL = (f"CASE WHEN NOT json_valid(raw_json) THEN NULL WHEN json_type(raw_json) = 'ARRAY' "
               f"THEN json_extract(raw_json, '{PAYLOAD_PATH}') ELSE raw_json::JSON END")


class SQLFailed(ValueError):
    """DuckDB rejected or stopped an allowed statement (unknown column, type error, time limit)."""


class Column(BaseModel):
    name: str
    type: str


class SQLResult(BaseModel):
    columns: list[Column]
    rows: list[list[Any]]
    row_count: int
    truncated: bool  # more rows matched than are returned
    note: str | None = None  # why it was cut, and what to do
    cells_cut: int = 0  # long text values shortened to MAX_CELL_CHARS
    elapsed_ms: float


def jsonable(value: Any) -> tuple[Any, int]:
    """A JSON-safe copy of a DuckDB value (exact decimals as text) and how many strings were cut."""
    if value is None or isinstance(value, bool | int):
        return value, 0
    if isinstance(value, str):
        if len(value) > MAX_CELL_CHARS:
            return value[:MAX_CELL_CHARS] + f" …[{len(value) - MAX_CELL_CHARS} more characters]", 1
        return value, 0
    if isinstance(value, float):
        return (value if math.isfinite(value) else str(value)), 0
    if isinstance(value, Decimal):
        return str(value), 0  # exact: money and prices are decimals, never floats
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(), 0
    if isinstance(value, dt.timedelta):
        return str(value), 0
    if isinstance(value, uuid.UUID):
        return str(value), 0
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode(), 0
    if isinstance(value, dict):
        out, cut = {}, 0
        for k, v in value.items():
            out[str(k)], n = jsonable(v)
            cut += n
        return out, cut
    if isinstance(value, list | tuple):
        items, cut = [], 0
        for v in value:
            item, n = jsonable(v)
            items.append(item)
            cut += n
        return items, cut
    return str(value), 0


class ReadOnlySQL:
    """One locked connection per process, rebuilt when a doc_type gets its first files (an empty
    view is a placeholder of its schema, a view with files reads them). Calls are serialized: one
    DuckDB connection, and the interrupt must hit the query it was armed for."""

    def __init__(self, paths: DataPaths, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.paths = paths
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._query: Query | None = None
        self._shape: tuple[bool, ...] | None = None

    def _current_shape(self) -> tuple[bool, ...]:
        return tuple(any(self.paths.doc_type_dir(v).glob("date=*/*.parquet")) for v in VIEWS)

    def _connection(self) -> duckdb.DuckDBPyConnection:
        shape = self._current_shape()
        if self._query is None or shape != self._shape:
            if self._query is not None:
                self._query.close()
            self._query, self._shape = self._build(), shape
        return self._query.con

    def _build(self) -> Query:
        query = Query(self.paths)  # views named after the doc_types, over their Parquet globs
        con = query.con
        for view in VIEWS:
            con.execute(f"ALTER VIEW {view} RENAME TO _{view}_rows")
            extra = f", {PAYLOAD_SQL} AS payload" if "raw_json" in SCHEMAS[view].names else ""
            con.execute(f"CREATE VIEW {view} AS SELECT *{extra} FROM _{view}_rows")
        con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        con.execute("SET enable_progress_bar = false")
        con.execute(f"SET allowed_directories = [{quote(self.paths.events_parquet)}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return query

    def views(self) -> dict[str, list[Column]]:
        """Each view's columns and DuckDB types."""
        with self._lock:
            con = self._connection()
            return {v: [Column(name=n, type=t) for n, t, *_ in con.execute(f"DESCRIBE {v}").fetchall()]
                    for v in VIEWS}

    def run(self, sql: str, limit: int = 1000) -> SQLResult:
        if not 1 <= limit <= MAX_LIMIT:
            raise SQLRefused(f"limit must be 1..{MAX_LIMIT}, got {limit}")
        with self._lock:
            con = self._connection()
            statement = check(con, sql, VIEWS)
            return self._execute(con, statement, limit)

    def _execute(self, con: duckdb.DuckDBPyConnection, statement: str, limit: int) -> SQLResult:
        done = threading.Event()
        guard = threading.Lock()

        def stop() -> None:
            with guard:
                if not done.is_set():
                    con.interrupt()

        timer = threading.Timer(self.timeout_s, stop)
        timer.daemon = True
        started = time.perf_counter()
        timer.start()
        try:
            cur = con.execute(statement)
            fetched = cur.fetchmany(limit + 1)
            description = cur.description or []
        except duckdb.InterruptException as exc:
            raise SQLFailed(f"stopped after the {self.timeout_s:g} s time limit; narrow the query "
                            f"(filter on date, game_id or event_name; aggregate; LIMIT)") from exc
        except duckdb.Error as exc:
            raise SQLFailed(str(exc).strip()) from exc
        finally:
            with guard:
                done.set()
            timer.cancel()
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        rows, cut, size, note = [], 0, 0, None
        for raw in fetched[:limit]:
            row, n = jsonable(list(raw))
            size += len(json.dumps(row))
            if size > MAX_RESULT_CHARS and rows:
                note = (f"cut at {len(rows)} rows: the answer reached {MAX_RESULT_CHARS:,} characters; "
                        f"select fewer or shorter columns (raw_json and payload are long)")
                break
            rows.append(row)
            cut += n
        truncated = note is not None or len(fetched) > limit
        if note is None and len(fetched) > limit:
            note = (f"cut at limit={limit} rows; more rows match (aggregate, add a WHERE, or raise limit "
                    f"up to {MAX_LIMIT})")
        columns = [Column(name=d[0], type=str(d[1])) for d in description]
        return SQLResult(columns=columns, rows=rows, row_count=len(rows), truncated=truncated, note=note,
                         cells_cut=cut, elapsed_ms=elapsed)

    def close(self) -> None:
        with self._lock:
            if self._query is not None:
                self._query.close()
                self._query = None
