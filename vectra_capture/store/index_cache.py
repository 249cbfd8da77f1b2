"""The vector index's per-raw-file protocol statistics cache: vectors/_protocol_stats/<name>.parquet,
one small file per raw ws_event file, written by the events build and by the explorer's catalog (the
same statistics function, so the same content). Derived and disposable: deleting it only makes the next
events build (or explorer start) rescan the raw files. Parquet, so it is written here like every other Parquet file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from vectra_capture.store.atomic import atomic_write_table, ensure_dir, remove_file
from vectra_capture.store.layout import DataPaths


def protocol_stats_dir(paths: DataPaths) -> Path:
    """Beside the tables on a local root; a cache stays on local disk when the root is s3://."""
    if paths.remote is not None:
        return paths.root / "cache" / "protocol_stats"
    return paths.vectors / "_protocol_stats"


def write_protocol_stats(paths: DataPaths, name: str, table: pa.Table) -> Path:
    """Atomically (re)write one cached statistics file."""
    path = ensure_dir(protocol_stats_dir(paths)) / f"{name}.parquet"
    atomic_write_table(path, table)
    return path


def remove_protocol_stats(paths: DataPaths, name: str) -> bool:
    return remove_file(protocol_stats_dir(paths) / f"{name}.parquet")
