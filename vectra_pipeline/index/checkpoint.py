"""The checkpoint manifest (manifests/vector_index_checkpoint.json): per table, the state of every
source file (size, mtime_ns, sha1: the store's stat-then-hash change detector), the row count, the
model path and documents version (DOCS_VERSION) the table was built with and the builds since the
last optimize(); at the top, the model name and dimension.

Files are tracked, not timestamps, so a late or backfilled file is never missed. Builds of different
tables run in parallel (one Dagster pool per table, `notes add` beside a run): each one read-merge-
writes the file under one lock and replaces only its own table's entry.
"""

from __future__ import annotations

import logging
from typing import Any

from vectra_capture.store import read_manifest, write_manifest
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import Embedder
from vectra_pipeline.index.locks import checkpoint_lock

log = logging.getLogger(__name__)

CHECKPOINT = "vector_index_checkpoint"

def read_checkpoint(paths: DataPaths) -> dict[str, Any]:
    try:
        return read_manifest(paths, CHECKPOINT) or {}
    except ValueError:
        log.warning("vector index checkpoint is not valid JSON; treating it as empty")
        return {}


def table_entry(checkpoint: dict[str, Any], table: str) -> dict[str, Any]:
    return checkpoint.get("tables", {}).get(table, {})


def save_table_entry(paths: DataPaths, table: str, entry: dict[str, Any], embedder: Embedder) -> None:
    """Read-merge-write under the checkpoint lock, replacing only this table's entry."""
    with checkpoint_lock(paths):
        checkpoint = read_checkpoint(paths)
        tables = {**checkpoint.get("tables", {}), table: entry}
        write_manifest(paths, CHECKPOINT, {**checkpoint, "version": 1, "model": embedder.name, "dim": embedder.dim,
                                           "tables": tables})
