"""The one way Vectra opens DuckDB: in memory (a second process cannot open a .duckdb file another
holds), pinned to UTC (strftime(ts) and timestamptz must not follow the machine's zone: a 23:00 UTC
event would get the next day's date under TZ=Asia/Tokyo), spilling to the system temp folder, never
the data root. Plus the SQL fragments every reader shares."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import duckdb

# The payload of a raw ws_event row: the last element of the frame array (a trace object may come
# before it); legacy rows are the record itself.
PAYLOAD_PATH = "$[#-1]"

SPILL_DIR = Path(tempfile.gettempdir()) / "vectra_duckdb"


def connect(memory_limit: str = "2GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{quote(str(SPILL_DIR))[1:-1]}'")
    con.execute("SET preserve_insertion_order = false")
    # in memory: no durability to buy, and a checkpoint would recompress a big stage table mid-run
    con.execute("SET checkpoint_threshold = '1TB'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def quote(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_values(values: Iterable[str | Path]) -> str:
    """Comma-separated string literals, for `IN (...)` (DuckDB and LanceDB filters alike)."""
    return ", ".join(quote(v) for v in values)


def sql_list(values: Iterable[str | Path]) -> str:
    """A DuckDB list literal of strings: ['a', 'b']."""
    return f"[{sql_values(values)}]"
