"""The LanceDB database under vectors/ (on an s3:// root: LanceDB's object store there): the three tables, their row schema, and the only connection
to it, so every table create / add / merge / delete / optimize / index / drop happens inside this
package.

lancedb is imported inside functions on purpose, here and wherever the index uses it: it costs
seconds, and the Dagster code location and `vectra status` must load without it.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from vectra_capture.store import ensure_dir
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.upload import delete_tree
from vectra_pipeline.index.embedder import Embedder

if TYPE_CHECKING:
    import lancedb

TABLES = ("events", "code_context", "debug_notes")
FILTER_COLUMNS = ("kind", "event_name", "game_id", "player_id", "date", "source_file", "path")


def connect(paths: DataPaths) -> lancedb.DBConnection:
    import lancedb

    if paths.remote is not None:  # LanceDB's own object store, with the root's endpoint and credentials
        return lancedb.connect(str(paths.vectors), storage_options=paths.remote.lance_storage_options())
    return lancedb.connect(str(ensure_dir(paths.vectors)))


async def connect_async(paths: DataPaths) -> lancedb.AsyncConnection:
    """The same database through LanceDB's async API (searches: one event-loop round trip per query)."""
    import lancedb

    if paths.remote is not None:
        return await lancedb.connect_async(str(paths.vectors), storage_options=paths.remote.lance_storage_options())
    return await lancedb.connect_async(str(ensure_dir(paths.vectors)))


def table_exists(paths: DataPaths, table: str) -> bool:
    return (paths.vectors / f"{table}.lance").exists()


def open_table(paths: DataPaths, table: str) -> Any:
    return connect(paths).open_table(table)


def table_schema(embedder: Embedder) -> pa.Schema:
    """Row schema of every table. The metadata names the embedding function and its local model path,
    so plain `lancedb` can embed a query string itself (`table.search("text")`)."""
    func = {**embedder.lancedb_function(), "source_column": "text", "vector_column": "vector"}
    metadata = {
        b"embedding_functions": json.dumps([func]).encode(),
        b"vectra_model": embedder.name.encode(),
        b"vectra_dim": str(embedder.dim).encode(),
    }
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), embedder.dim)),
            *[pa.field(c, pa.string()) for c in FILTER_COLUMNS],
            pa.field("text_hash", pa.string(), nullable=False),
        ],
        metadata=metadata,
    )


def remove_table_folder(paths: DataPaths, name: str) -> bool:
    """Delete vectors/<name>.lance entirely (a table LanceDB can no longer open cannot be dropped
    through LanceDB itself); True if it existed."""
    folder = paths.vectors / f"{name}.lance"
    if paths.remote is not None:
        return delete_tree(folder)  # type: ignore[arg-type]
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True
