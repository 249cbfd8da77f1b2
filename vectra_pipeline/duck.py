"""The one way Vectra opens DuckDB: in memory (a second process cannot open a .duckdb file another
holds), pinned to UTC (strftime(ts) and timestamptz must not follow the machine's zone: a 23:00 UTC
event would get the next day's date under TZ=Asia/Tokyo), spilling to the system temp folder, never
the data root. Plus the SQL fragments every reader shares.

On an s3:// data root every connection also reads s3:// paths through the root's fsspec
filesystem (`register_filesystem`), with extension auto-install off: no httpfs download.

The settings are defined here once and used twice: `connect()` for the CLI, bench and plain
functions, and the Dagster `DuckDBResource` (vectra_pipeline/defs/landing/resources.py), which
passes `connection_config()` to `duckdb.connect` and runs `apply_session_settings()` on each
connection it opens."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from vectra_capture.store.objectstore import S3Settings, settings_in_use

# The payload of a raw ws_event row: the last element of the frame array (a trace object may come
# before it); legacy rows are the record itself.
PAYLOAD_PATH = "$[#-1]"

SPILL_DIR = Path(tempfile.gettempdir()) / "vectra_duckdb"
MEMORY_LIMIT = "2GB"
TIME_ZONE = "UTC"


def connection_config(memory_limit: str = MEMORY_LIMIT, threads: int | None = None) -> dict[str, Any]:
    """The settings `duckdb.connect(config=...)` accepts at open time."""
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        "temp_directory": str(SPILL_DIR),
        "preserve_insertion_order": False,
        # in memory: no durability to buy, and a checkpoint would recompress a big stage table mid-run
        "checkpoint_threshold": "1TB",
    }
    if threads:
        config["threads"] = int(threads)
    if settings_in_use() is not None:
        # s3:// paths are read through the registered fsspec filesystem (below), never the httpfs
        # extension: nothing is downloaded at run time
        config["autoinstall_known_extensions"] = False
    return config


def apply_session_settings(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """What the open-time config cannot carry: TimeZone belongs to the ICU extension, which DuckDB
    loads only after the database is open (passing it in `config` fails with "icu ... could not be
    autoloaded")."""
    con.execute(f"SET TimeZone = {quote(TIME_ZONE)}")
    settings = settings_in_use()
    if settings is not None:
        register_object_store(con, settings)
    return con


def register_object_store(con: duckdb.DuckDBPyConnection, settings: S3Settings) -> None:
    """Let DuckDB read s3:// paths through s3fs (fsspec), with the object root's settings."""
    from vectra_capture.store.objectstore import ObjectRoot

    con.register_filesystem(ObjectRoot("_", "", settings).fsspec_fs())


def connect(memory_limit: str = MEMORY_LIMIT, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    return apply_session_settings(duckdb.connect(config=connection_config(memory_limit, threads)))


def quote(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_values(values: Iterable[str | Path]) -> str:
    """Comma-separated string literals, for `IN (...)` (DuckDB and LanceDB filters alike)."""
    return ", ".join(quote(v) for v in values)


def sql_list(values: Iterable[str | Path]) -> str:
    """A DuckDB list literal of strings: ['a', 'b']."""
    return f"[{sql_values(values)}]"
