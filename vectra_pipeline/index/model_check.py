"""Do the checkpoint, the table and the configured embedding model agree on model name, dimension
and local model path, and was the table built with this code's documents (DOCS_VERSION)? A table built
with another model (or with a model path that is gone or is not this install's, which would break
plain-lancedb `.search("text")`) or with other documents (other ids and texts: `trade:<id>` next to
`trades:<game>:<player>`) must be rebuilt with --full, never mixed with new rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.checkpoint import read_checkpoint, table_entry
from vectra_pipeline.index.docs.common import DOCS_VERSION
from vectra_pipeline.index.embedder import Embedder, get_embedder
from vectra_pipeline.index.tables import open_table, table_exists


def model_path(embedder: Embedder) -> str | None:
    """The local model path plain `lancedb` loads from the table metadata (None for non-path models)."""
    name = (embedder.lancedb_function().get("model") or {}).get("name")
    return name if isinstance(name, str) and Path(name).is_absolute() else None


def _path_problem(where: str, stored: str | None, current: str | None) -> str | None:
    """A stored model path that is gone or is not this install's: plain `.search("text")` would fail or
    load another model (another venv or clone)."""
    if stored is None or current is None:
        return None
    if stored != current:
        return f"{where} model path {stored} is not this install's {current}"
    if not Path(stored).exists():
        return f"{where} model path {stored} no longer exists"
    return None


def _table_model_path(schema: pa.Schema) -> str | None:
    raw = (schema.metadata or {}).get(b"embedding_functions")
    if not raw:
        return None
    try:
        funcs = json.loads(raw)
        name = (funcs[0].get("model") or {}).get("name")
    except (ValueError, IndexError, AttributeError, TypeError):
        return None
    return name if isinstance(name, str) and Path(name).is_absolute() else None


def checkpoint_problems(checkpoint: dict[str, Any], table: str, embedder: Embedder) -> list[str]:
    """The cheap checks (no lancedb import): model name/dimension, model path and documents version in
    the checkpoint (an entry written before documents had a version holds version 1)."""
    problems = []
    entry = table_entry(checkpoint, table)
    if entry and entry.get("docs_version", 1) != DOCS_VERSION:
        problems.append(f"built with documents version {entry.get('docs_version', 1)}, this code builds "
                        f"version {DOCS_VERSION}")
    if (checkpoint.get("model") not in (None, embedder.name)
            or checkpoint.get("dim") not in (None, embedder.dim)):
        problems.append(f"manifest says {checkpoint.get('model')}/{checkpoint.get('dim')}")
    stored = entry.get("model_path")
    problem = _path_problem("manifest", stored, model_path(embedder))
    if problem:
        problems.append(problem)
    return problems


def mismatch_message(table: str, problems: list[str], embedder: Embedder) -> str:
    return (f"{table}: model or documents mismatch ({'; '.join(problems)}; configured "
            f"{embedder.name}/{embedder.dim}, documents version {DOCS_VERSION}): rebuild with --full")


def model_check(paths: DataPaths, table: str, embedder: Embedder | None = None) -> tuple[bool, str]:
    """(ok, message): checkpoint, table and configured model must agree on model name, dimension and path."""
    embedder = embedder or get_embedder()
    if not table_exists(paths, table):
        return True, f"{table}: no table yet"
    checkpoint = read_checkpoint(paths)
    try:
        schema = open_table(paths, table).schema
    except Exception as exc:  # corrupt table
        return False, f"{table}: table cannot be opened ({exc}); rebuild with --full"
    meta = schema.metadata or {}
    table_model = meta.get(b"vectra_model", b"?").decode()
    table_dim = schema.field("vector").type.list_size if "vector" in schema.names else None
    problems = checkpoint_problems(checkpoint, table, embedder)
    if table_model != embedder.name or table_dim != embedder.dim:
        problems.append(f"table holds {table_model}/{table_dim}")
    problem = _path_problem("table", _table_model_path(schema), model_path(embedder))
    if problem:
        problems.append(problem)
    if problems:
        return False, mismatch_message(table, problems, embedder)
    return True, f"{table}: {embedder.name}/{embedder.dim} everywhere"
