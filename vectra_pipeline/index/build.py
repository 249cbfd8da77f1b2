"""Build one vector table: source documents -> embedded rows -> a LanceDB write.

Full build: every document of the table is embedded, then the table is replaced in one commit.
Incremental build: only source files that are new, changed or gone (per the checkpoint) are re-read;
of the documents they give only those whose text changed are embedded and upserted with merge_insert,
and rows whose source no longer gives them are deleted. Nothing new -> nothing is read, nothing is
embedded, lancedb is not even imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from vectra_capture.store.fingerprints import changed_files
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.lease import Lease, index_writer
from vectra_pipeline.duck import sql_values
from vectra_pipeline.index.checkpoint import read_checkpoint, save_table_entry, table_entry
from vectra_pipeline.index.docs.common import DOCS_VERSION, Doc
from vectra_pipeline.index.embedder import Embedder, get_embedder
from vectra_pipeline.index.errors import ModelMismatch
from vectra_pipeline.index.locks import table_lock
from vectra_pipeline.index.model_check import checkpoint_problems, mismatch_message, model_check, model_path
from vectra_pipeline.index.sources import docs_for, source_files
from vectra_pipeline.index.tables import (
    FILTER_COLUMNS,
    TABLES,
    connect,
    remove_table_folder,
    table_exists,
    table_schema,
)

log = logging.getLogger(__name__)

EMBED_CHUNK = 192  # texts per progress step (the model batches inside)
OPTIMIZE_EVERY = 4  # incremental builds that wrote something between two optimize() calls
IVF_PQ_MIN_ROWS = 50_000  # below this a flat search is fast enough and an index is not worth training
ID_BATCH = 500  # ids per `id IN (...)` filter
# few distinct values: BITMAP; many (ids): BTREE
SCALAR_INDEXES = {"kind": "BITMAP", "date": "BITMAP", "game_id": "BTREE", "player_id": "BTREE"}

ProgressFactory = Callable[[int, str], Any]  # (total, description) -> object with update(n) and close()


@dataclass
class TableResult:
    table: str
    mode: str
    embedded: int = 0
    skipped: int = 0  # documents rebuilt whose text was unchanged (not re-embedded)
    deleted: int = 0
    rows: int = 0
    files_changed: int = 0
    files_removed: int = 0
    invalid_rows: int = 0  # raw rows whose raw_json does not parse (counted, not indexed)
    stats_files_computed: int = 0  # raw files scanned for protocol statistics (the rest from the cache)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    load_seconds: float = 0.0
    optimized: bool = False
    message: str = ""

    @property
    def docs_per_s(self) -> float:
        return round(self.embedded / self.seconds, 1) if self.seconds and self.embedded else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "docs_per_s": self.docs_per_s}


def build(
    paths: DataPaths, *, full: bool, tables: Iterable[str] = TABLES, embedder: Embedder | None = None,
    progress: ProgressFactory | None = None,
) -> list[TableResult]:
    embedder = embedder or get_embedder()
    return [build_table(paths, t, full=full, embedder=embedder, progress=progress) for t in tables]


def build_table(
    paths: DataPaths, table: str, *, full: bool, embedder: Embedder | None = None,
    progress: ProgressFactory | None = None, lock_wait_s: float = 0.0,
) -> TableResult:
    """Full or incremental build of one table, under the table's writer lock (waited for up to
    lock_wait_s; LockHeld when another build still holds it)."""
    embedder = embedder or get_embedder()
    with table_lock(paths, table, lock_wait_s), Lease(paths, index_writer(table)):
        started = time.perf_counter()
        result = _build_locked(paths, table, full, embedder, progress)
    # model loading is paid once per process, not per document: keep it out of docs/s
    result.seconds = round(time.perf_counter() - started - result.load_seconds, 3)
    log.info("vectors %s %s: %s", table, result.mode, result.message)
    return result


def _build_locked(paths: DataPaths, table: str, full: bool, embedder: Embedder,
                  progress: ProgressFactory | None) -> TableResult:
    checkpoint = read_checkpoint(paths)
    entry = table_entry(checkpoint, table)
    previous = {} if full else entry.get("files", {})
    files = source_files(paths, table)
    exists = table_exists(paths, table)
    if not full and not exists:
        full, previous = True, {}  # a missing table is simply built
    states, changed = changed_files(files, previous)  # stat first, sha1 only when the stat moved
    removed = sorted(set(previous) - set(files))
    result = TableResult(table=table, mode="full" if full else "incremental", files_changed=len(changed),
                         files_removed=len(removed))
    if not full and not changed and not removed:
        # the cheap checkpoint check only: a no-op must not even import lancedb (the asset check opens the table)
        problems = checkpoint_problems(checkpoint, table, embedder)
        if problems:
            raise ModelMismatch(mismatch_message(table, problems, embedder))
        result.rows = entry.get("rows", 0)
        result.message = "nothing new: 0 documents embedded"
        return result
    if not full:
        ok, message = model_check(paths, table, embedder)
        if not ok:
            raise ModelMismatch(message)

    batch = docs_for(paths, table, files.keys() if full else [*changed, *removed], files, full)
    result.invalid_rows, result.stats_files_computed = batch.invalid_rows, batch.stats_files_computed
    schema = table_schema(embedder)
    if full:
        tbl = _write_full(paths, table, batch.docs, schema, exists, embedder, progress, result)
        builds_since = 0
    else:
        tbl = connect(paths).open_table(table)
        builds_since = _write_incremental(tbl, batch.docs, batch.touched, schema, embedder, progress, result)
        builds_since += entry.get("builds_since_optimize", 0)
        if builds_since >= OPTIMIZE_EVERY:
            # compaction + index refresh + pruning of old versions, so fragments do not pile up
            tbl.optimize(cleanup_older_than=timedelta(hours=1))
            result.optimized, builds_since = True, 0
    result.rows = tbl.count_rows()
    save_table_entry(paths, table, {
        "files": states, "rows": result.rows, "builds_since_optimize": builds_since,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"), "last_mode": result.mode,
        # full builds write it; incremental ones keep what the table was built with (checked above)
        "model_path": model_path(embedder) if full else entry.get("model_path"),
        # an incremental build only gets here when the check above found this version (or no entry)
        "docs_version": DOCS_VERSION,
    }, embedder)
    result.message = (f"{result.embedded} documents embedded, {result.skipped} unchanged, {result.deleted} "
                      f"deleted; {result.rows} rows")
    if result.invalid_rows:
        result.message += f"; {result.invalid_rows} raw rows with invalid JSON skipped"
    return result


def _write_full(paths: DataPaths, table: str, docs: list[Doc], schema: pa.Schema, exists: bool,
                embedder: Embedder, progress: ProgressFactory | None, result: TableResult) -> Any:
    # embed everything first: the previous table answers queries meanwhile and survives a failure
    if docs:
        _warm(embedder, result)
    t0 = time.perf_counter()
    texts, vectors = embed_docs(docs, embedder, progress, f"embed {table}")
    result.embed_seconds = round(time.perf_counter() - t0, 3)
    tbl = _replace_table(paths, table, _rows(docs, texts, vectors, schema), schema, exists)
    result.embedded = len(docs)
    ensure_indexes(tbl, len(docs))
    return tbl


def _write_incremental(tbl: Any, docs: list[Doc], touched: set[str], schema: pa.Schema, embedder: Embedder,
                       progress: ProgressFactory | None, result: TableResult) -> int:
    """Upsert changed documents, delete rows their sources no longer give; 1 if anything was written."""
    existing: dict[str, str] = {}
    if touched:
        where = f"source_file IN ({sql_values(sorted(touched))})"
        got = tbl.search().where(where).select(["id", "text_hash"]).limit(None).to_arrow()
        existing = dict(zip(got["id"].to_pylist(), got["text_hash"].to_pylist(), strict=True))
    new_ids = {d.id for d in docs}
    stale = sorted(set(existing) - new_ids)
    # ids can move between source files (a game in two partitions): compare on the whole table
    existing_all = {**_hashes_for(tbl, [d.id for d in docs if d.id not in existing]), **existing}
    todo = [d for d in docs if existing_all.get(d.id) != d.text_hash]
    result.skipped = len(docs) - len(todo)
    if todo:
        _warm(embedder, result)
    t0 = time.perf_counter()
    texts, vectors = embed_docs(todo, embedder, progress, f"embed {result.table}")
    result.embed_seconds = round(time.perf_counter() - t0, 3)
    if todo:
        (tbl.merge_insert("id").when_matched_update_all().when_not_matched_insert_all()
         .execute(_rows(todo, texts, vectors, schema)))
    for start in range(0, len(stale), ID_BATCH):
        tbl.delete(f"id IN ({sql_values(stale[start : start + ID_BATCH])})")
    result.embedded, result.deleted = len(todo), len(stale)
    if not (todo or stale):
        return 0
    ensure_indexes(tbl, tbl.count_rows())
    return 1


def embed_docs(docs: list[Doc], embedder: Embedder, progress: ProgressFactory | None,
               desc: str) -> tuple[list[str], np.ndarray]:
    texts = [embedder.trim(d.text) for d in docs]  # stored, shown and full-text indexed
    embedded = [t if d.embed_text is None else embedder.trim(d.embed_text) for d, t in zip(docs, texts, strict=True)]
    bar = progress(len(texts), desc) if progress and texts else None
    parts = []
    for start in range(0, len(embedded), EMBED_CHUNK):
        chunk = embedded[start : start + EMBED_CHUNK]
        parts.append(embedder.embed(chunk))
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype="float32")
    return texts, vectors


def _rows(docs: list[Doc], texts: list[str], vectors: np.ndarray, schema: pa.Schema) -> pa.Table:
    cols: dict[str, list] = {
        "id": [d.id for d in docs],
        "text": texts,
        "vector": [v.tolist() for v in vectors],
        "text_hash": [d.text_hash for d in docs],  # hash of the untrimmed text (and embed_text): the change detector
    }
    for c in FILTER_COLUMNS:
        cols[c] = [getattr(d, c) for d in docs]
    return pa.Table.from_pydict(cols, schema=pa.schema(list(schema), metadata=None))


def ensure_indexes(tbl: Any, rows: int) -> None:
    """A full-text index always (the hybrid search's text leg); IVF_PQ and scalar indexes on the usual
    filter columns once the table is big enough (a `where` then reads an index, not the column)."""
    from lancedb.index import FTS, Bitmap, BTree, IvfPq

    names = {getattr(i, "name", "") for i in tbl.list_indices()}
    if "text_idx" not in names:
        tbl.create_index("text", config=FTS(with_position=False), replace=True)
    if rows < IVF_PQ_MIN_ROWS:
        return
    if "vector_idx" not in names:
        tbl.create_index("vector", config=IvfPq(distance_type="cosine"), replace=True)
    for column, kind in SCALAR_INDEXES.items():
        if f"{column}_idx" not in names:
            tbl.create_index(column, config=Bitmap() if kind == "BITMAP" else BTree(), replace=True)


def _replace_table(paths: DataPaths, table: str, rows: pa.Table, schema: pa.Schema, exists: bool) -> Any:
    """The new table in one commit (a new version of the same dataset): readers see old or new, never none."""
    db = connect(paths)
    try:
        return db.create_table(table, data=rows, schema=schema, mode="overwrite")
    except Exception as exc:
        if not exists:
            raise
        # a table LanceDB cannot open cannot be overwritten either: remove its folder, then create
        log.warning("overwriting %s failed (%s); removing its folder", table, exc)
        remove_table_folder(paths, table)
        return db.create_table(table, data=rows, schema=schema)


def _warm(embedder: Embedder, result: TableResult) -> None:
    t0 = time.perf_counter()
    embedder.warm()
    result.load_seconds = round(result.load_seconds + time.perf_counter() - t0, 3)


def _hashes_for(tbl: Any, ids: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for start in range(0, len(ids), ID_BATCH):
        part = ids[start : start + ID_BATCH]
        got = tbl.search().where(f"id IN ({sql_values(part)})").select(["id", "text_hash"]).limit(None).to_arrow()
        out.update(zip(got["id"].to_pylist(), got["text_hash"].to_pylist(), strict=True))
    return out
