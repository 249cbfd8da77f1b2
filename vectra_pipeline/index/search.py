"""Hybrid search of one vector table (vector + full text, fused with reciprocal rank fusion), for
people (`vectra index query`) and agents alike. Searches only read: they never change a table.

The two legs and the fusion are LanceDB's hybrid query with its RRFReranker, run here on LanceDB's
async API instead (measured at 100k rows, filtered: 0.7-0.8x the time of its sync hybrid query, same
answers): one event-loop round trip per leg instead of several per leg plus a thread pool, the
full-text leg runs while the question is embedded, and the fusion is a few dict operations on the
20 candidate rows instead of Arrow concatenation, deduplication and sorting."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

import numpy as np

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import Embedder, get_embedder
from vectra_pipeline.index.errors import InvalidFilter, TableMissing
from vectra_pipeline.index.lance_import import import_lancedb
from vectra_pipeline.index.tables import FILTER_COLUMNS, TABLES, connect_async, table_exists

log = logging.getLogger(__name__)

RESULT_COLUMNS = ("id", "text", *FILTER_COLUMNS)
FILTER_EXAMPLE = "kind = 'trade' AND date >= '2025-11-01'"
RRF_K = 60  # LanceDB's RRFReranker default (K=60): the same scores, so the same answers


def search(
    text: str, table: str = "events", where: str | None = None, limit: int = 10, *,
    paths: DataPaths | None = None, embedder: Embedder | None = None,
) -> list[dict[str, Any]]:
    """Each result: score, id, kind, text and the filter columns. `where` is an SQL filter on the
    filter columns (a prefilter: each leg searches only the matching rows); a malformed one raises
    InvalidFilter.

    The table is opened (lancedb imported, on a cold process) and its full-text leg run on LanceDB's
    event loop while the question is embedded here: ONNX Runtime and LanceDB both release the GIL."""
    paths = paths or DataPaths.resolve()
    embedder = embedder or get_embedder()
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; tables: {TABLES}")
    if not table_exists(paths, table):
        raise TableMissing(f"{table}: no vector table yet; run `vectra index build --full`")
    text_leg = _soon(lambda: _open_and_match(paths, table, fts_text(text), where, limit))
    vector = embedder.embed([text])[0]
    tbl, matched = text_leg.result()
    try:
        nearest = _run(_leg(tbl.query().nearest_to(vector).column("vector"), where, limit))
    except Exception:
        if where:
            _check_filter(tbl, where)  # a bad filter is the caller's to fix: InvalidFilter
        raise
    if isinstance(matched, Exception):  # e.g. no FTS index on a table built elsewhere: vector search still answers
        if where:
            _check_filter(tbl, where)
        log.warning("hybrid search failed (%s); falling back to vector search", matched)
        return [_result(r, 1.0 - r["_distance"]) for r in nearest]
    return rrf_fuse(nearest, matched, limit)


def rrf_fuse(nearest: list[dict], matched: list[dict], limit: int) -> list[dict[str, Any]]:
    """Reciprocal rank fusion exactly as LanceDB's RRFReranker does it, ties included: rank r in a leg
    adds 1 / (r + K) to its row's score (summed in float64, vector leg first); rows in vector-then-text
    order, a row in both kept once; the score stored as float32 and the rows stably sorted on it,
    highest first (so equal scores keep that order)."""
    scores: dict[int, float] = {}
    rows: dict[int, dict] = {}
    for leg in (nearest, matched):
        for rank, row in enumerate(leg, 1):
            scores[row["_rowid"]] = scores.get(row["_rowid"], 0.0) + 1 / (rank + RRF_K)
            rows.setdefault(row["_rowid"], row)
    stored = {rowid: float(np.float32(score)) for rowid, score in scores.items()}
    top = sorted(rows, key=lambda rowid: -stored[rowid])[:limit]
    return [_result(rows[rowid], stored[rowid]) for rowid in top]


def _result(row: dict, score: float) -> dict[str, Any]:
    return {"score": round(float(score), 6), **{c: row.get(c) for c in RESULT_COLUMNS}}


async def _open_and_match(paths: DataPaths, table: str, text: str, where: str | None, limit: int) -> tuple[Any, Any]:
    """The table at its latest version and its full-text leg's rows (or the exception that leg raised)."""
    tbl = await _latest_table(paths, table)
    try:
        return tbl, await _leg(tbl.query().nearest_to_text(text), where, limit)
    except Exception as exc:
        return tbl, exc


async def _leg(query: Any, where: str | None, limit: int) -> list[dict]:
    """One leg as LanceDB's hybrid query runs it: `limit` rows, the result columns and `_rowid` (what
    the fusion joins on), as dicts (made on the loop's thread: the full-text leg's while the caller
    embeds)."""
    query = query.select(list(RESULT_COLUMNS)).with_row_id().limit(limit)
    return (await (query.where(where) if where else query).to_arrow()).to_pylist()


def _check_filter(tbl: Any, where: str) -> None:
    """InvalidFilter when LanceDB cannot parse `where` or it names an unknown column (a plain scan
    with the filter, run only after a search failed, so valid queries never pay for it)."""
    try:
        _run(tbl.query().where(where).select(["id"]).limit(1).to_arrow())
    except ValueError as exc:
        raise InvalidFilter(f"invalid filter {where!r}: {_reason(exc)}. Write SQL on the columns "
                            f"{', '.join(FILTER_COLUMNS)}, e.g. {FILTER_EXAMPLE}") from exc


def _reason(exc: Exception) -> str:
    """LanceDB's message on one line, without its repeated prefixes and Rust source locations."""
    text = re.sub(r",?\s*/\S+\.rs:\d+:\d+", "", " ".join(str(exc).split()))
    while text.startswith("Invalid input, "):
        text = text.removeprefix("Invalid input, ")
    return text[:200]


def _loop() -> Any:
    """LanceDB's own background event loop (its sync API runs there too)."""
    import_lancedb()  # without the REST client's import cost
    from lancedb.background_loop import LOOP

    return LOOP


def _run(coro: Coroutine) -> Any:
    return _loop().run(coro)


def _soon(make: Callable[[], Coroutine]) -> Future:
    """`make()` started on LanceDB's event loop while the caller goes on. On a cold process lancedb is
    imported first, on a daemon thread (no executor to shut down at exit), for the same reason."""
    if _CONNECTIONS:  # lancedb imported, its loop running
        return asyncio.run_coroutine_threadsafe(make(), _loop().loop)
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(_run(make()))
        except BaseException as exc:  # handed to the caller by result()
            future.set_exception(exc)

    threading.Thread(target=run, name="search-open", daemon=True).start()
    return future


# Touched only on LanceDB's event loop (one thread): no lock needed.
_CONNECTIONS: dict[str, Any] = {}
_TABLES: dict[tuple[str, str], Any] = {}


async def _latest_table(paths: DataPaths, table: str) -> Any:
    """The table opened once per process, moved to its latest version before each search (one version
    check instead of reopening: schema, indexes and caches stay loaded), so a query still always sees
    the latest build. Reopened when that fails (e.g. its folder was replaced)."""
    key = (str(paths.vectors), table)
    tbl = _TABLES.get(key)
    if tbl is not None:
        try:
            await tbl.checkout_latest()
            return tbl
        except Exception as exc:
            log.debug("reopening %s (%s)", table, exc)
    tbl = _TABLES[key] = await (await _connection(paths)).open_table(table)
    return tbl


async def _connection(paths: DataPaths) -> Any:
    """One LanceDB connection per data root per process for searches: its session keeps the loaded
    IVF/FTS index pages, which a fresh connection reloads (measured 56 -> 38 ms per hybrid query at 100k
    rows)."""
    key = str(paths.vectors)
    db = _CONNECTIONS.get(key)
    if db is None:
        db = _CONNECTIONS[key] = await connect_async(paths)
    return db


def fts_text(text: str) -> str:
    """The full-text leg gets plain words: query-parser syntax characters would be errors there."""
    cleaned = "".join(ch if ch.isalnum() or ch in " _-/" else " " for ch in text)
    return " ".join(cleaned.split()) or text
