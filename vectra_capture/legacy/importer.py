"""Legacy JSONL recordings -> raw ws_event Parquet (source=replay) + quarantine. One code path for the
Dagster asset and `vectra legacy import`.

Rows: one Parquet file per (source file, UTC date) named `legacy-<sha1(key)[:16]>.parquet`, written
with store.replace_file_set so a re-import replaces the file's old rows wherever they were; quarantine
rows go to the same name under quarantine/replay/ (`rows.py` builds the tables).

A file's key (manifest key, origin_file, session_id and Parquet name are all derived from it) is its
name relative to the legacy root, or its absolute path when it lies outside that root (so two folders
holding the same file name never share rows).

Change detection (manifests/legacy_import.json, keyed by the file's key):
same size and mtime -> skipped without reading; otherwise the sha256 decides (same content, new
mtime -> skipped, manifest refreshed); a changed file, a new file or a new READER_VERSION -> imported.
A file that had lines over the line limit is imported again when the limit changes.
Files that vanished from the legacy dir keep their rows (history is not deleted by accident).
A file whose import raises is recorded as `failed` (its manifest entry is left as it was, so the next
run tries it again) and the run goes on with the other files.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from vectra_capture.legacy.formats import UNKNOWN
from vectra_capture.legacy.lines import DEFAULT_MAX_LINE_BYTES
from vectra_capture.legacy.reader import read_legacy_file, relative_name
from vectra_capture.legacy.rows import DOC_TYPE, SOURCE, quarantine_tables, ws_event_tables
from vectra_capture.legacy.summary import FileResult, failed_result, summarize
from vectra_capture.store import (
    FileLock,
    folder_syncs_deferred,
    lock_path,
    read_manifest,
    replace_file_set,
    write_manifest,
)
from vectra_capture.store.fingerprints import content_digest, same_stat, stat_entry
from vectra_capture.store.layout import DataPaths, default_legacy_dir
from vectra_capture.store.lease import LEGACY_IMPORT_WRITER, Lease
from vectra_capture.store.quarantine import replace_quarantine_file_set

log = logging.getLogger(__name__)

MANIFEST = "legacy_import"
# Bump when the reader or the row shape changes: every file is re-imported.
# v2: DST fall-back times placed by order, outside-root keys are absolute.
READER_VERSION = 2
# Bounds the redo after a crash without rewriting the manifest per file: by time, as its size grows
# with the files (rewriting it every 200 files cost ~10% of a 1,000-file import).
_MANIFEST_FLUSH_SECONDS = 30.0
_PARALLEL_MIN_FILES = 16  # below this, starting worker processes costs more than it saves


# ---------------------------------------------------------------- naming


def session_id_for(rel: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-legacy:" + rel))


def parquet_name_for(rel: str) -> str:
    return f"legacy-{hashlib.sha1(rel.encode()).hexdigest()[:16]}.parquet"


# ---------------------------------------------------------------- discovery


def discover(
    sources: Iterable[str | Path] | None, legacy_root: Path | None = None
) -> list[tuple[Path, Path | None]]:
    """(file, root) pairs, sorted, de-duplicated. Directories are walked for *.jsonl. The root is the
    legacy root when the path lies under it (so keys never depend on how the import was called), else
    None: the file is keyed by its absolute path."""
    legacy_root = (legacy_root or default_legacy_dir()).expanduser().resolve()
    items = [Path(s).expanduser().resolve() for s in (sources or [legacy_root])]
    out: dict[Path, Path | None] = {}
    for item in items:
        under_root = item == legacy_root or legacy_root in item.parents
        if item.is_dir():
            root = legacy_root if under_root else None
            for f in sorted(item.rglob("*.jsonl")):
                if f.is_file():
                    out.setdefault(f, root)
        elif item.is_file():
            out.setdefault(item, legacy_root if under_root else None)
        else:
            raise FileNotFoundError(f"legacy path not found: {item}")
    return sorted(out.items())


def import_file(
    paths: DataPaths, path: Path, root: Path | None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    rel: str | None = None,
) -> tuple[FileResult, dict[str, Any]]:
    """Read one file and replace its rows in the store. Returns the result and its manifest entry.
    `rel`: the file's key, when the caller has it already."""
    lf = read_legacy_file(path, root, max_line_bytes, keep_objects=False, rel=rel)
    sid = session_id_for(lf.rel)
    name = parquet_name_for(lf.rel)
    ws = ws_event_tables(lf, sid)
    quarantine = quarantine_tables(lf, sid)
    replace_file_set(paths, DOC_TYPE, name, ws)
    replace_quarantine_file_set(paths, SOURCE, name, quarantine)
    result = FileResult(
        file=lf.rel, status="unknown_format" if lf.format == UNKNOWN else "imported", format=lf.format,
        counters=lf.counters, quarantine_rows=len(lf.quarantined), bytes=lf.size,
        games=sorted(lf.game_ids), dates=sorted(set(ws) | set(quarantine)), detail=lf.detail,
    )
    entry = {
        "size": lf.size, "mtime_ns": lf.mtime_ns, "sha256": lf.sha256, "reader_version": READER_VERSION,
        "root": str(root) if root else None, "parquet": name, "imported_at": time.time(),
        "max_line_bytes": max_line_bytes, "result": result.as_dict(),
    }
    return result, entry


# ---------------------------------------------------------------- the run


def _unchanged(
    path: Path, entry: dict[str, Any] | None, max_line_bytes: int
) -> tuple[bool, dict[str, Any] | None]:
    """(skip?, refreshed entry). Stat first; hash only when size or mtime moved."""
    if not entry or entry.get("reader_version") != READER_VERSION:
        return False, None
    if entry.get("result", {}).get("oversized") and entry.get("max_line_bytes") != max_line_bytes:
        return False, None  # lines over the old limit may fit the new one
    current = stat_entry(path)
    if same_stat(entry, current):
        return True, None
    if current["size"] != entry.get("size"):
        return False, None
    if content_digest(path, "sha256") == entry.get("sha256"):
        return True, {**entry, "mtime_ns": current["mtime_ns"]}  # touched, not changed
    return False, None


def import_legacy(
    sources: Iterable[str | Path] | None,
    paths: DataPaths,
    *,
    legacy_root: Path | None = None,
    force: bool = False,
    workers: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    on_file: Callable[[FileResult], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Import every legacy file under `sources` (default: the legacy root). Returns the summary.

    Files are independent (each owns its Parquet names), so `workers` > 1 imports changed files in that
    many processes; the manifest is written only by this process. Default 1: on the shared 2-core
    machines measured, two workers gave no gain (bench/legacy.py) and spawning costs ~1 s.
    A line longer than `max_line_bytes` is quarantined with its size and first bytes; it bounds the
    memory one line can take."""
    started = time.perf_counter()
    files = discover(sources, legacy_root)
    keys = [relative_name(p, r) for p, r in files]  # each resolves the path: once per file
    if on_plan:
        on_plan(len(files))
    results: dict[str, FileResult] = {}
    # Folders are fsynced once per manifest write, not after each of the thousands of small files
    # (durable before the manifest says they are imported; rows still appear whole or not at all).
    with FileLock(lock_path(paths, MANIFEST)), Lease(paths, LEGACY_IMPORT_WRITER), \
            folder_syncs_deferred() as sync_folders:
        manifest = read_manifest(paths, MANIFEST) or {"version": 1, "files": {}}
        entries: dict[str, Any] = manifest.setdefault("files", {})
        dirty = 0
        flushed_at = time.monotonic()

        def done(res: FileResult, entry: dict[str, Any] | None) -> None:
            nonlocal dirty, flushed_at
            results[res.file] = res
            if entry is not None:
                entries[res.file] = entry
                dirty += 1
                if entry.get("root") is None:
                    _drop_pre_v2_copy(paths, entries, res.file)
            if res.status == "failed":
                log.error("%s: import failed, the other files go on (%s)", res.file, res.detail)
            elif res.status == "unknown_format":
                log.warning("%s: unknown legacy format (%s); its lines are quarantined", res.file, res.detail)
            if on_file:
                on_file(res)
            if dirty and time.monotonic() - flushed_at >= _MANIFEST_FLUSH_SECONDS:
                sync_folders()
                write_manifest(paths, MANIFEST, manifest)
                dirty, flushed_at = 0, time.monotonic()

        try:
            todo: list[tuple[Path, Path | None, str]] = []
            for (path, root), rel in zip(files, keys, strict=True):
                try:
                    skip, refreshed = (False, None) if force else _unchanged(path, entries.get(rel), max_line_bytes)
                except Exception as exc:  # e.g. removed since discovery: this file fails, not the run
                    done(failed_result(rel, exc), None)
                    continue
                if skip:
                    prev = entries[rel].get("result", {})
                    done(FileResult.from_dict({**prev, "file": rel, "status": "skipped"}), refreshed)
                else:
                    todo.append((path, root, rel))
            for res, entry in _run(paths, todo, workers, max_line_bytes):
                done(res, entry)
        finally:
            sync_folders()
            if dirty:
                write_manifest(paths, MANIFEST, manifest)
    ordered = [results[k] for k in keys]
    return summarize(ordered, time.perf_counter() - started, paths)


def _import_one(
    paths: DataPaths, path: Path, root: Path | None, max_line_bytes: int, rel: str
) -> tuple[FileResult, dict[str, Any] | None]:
    """import_file, isolated: an error fails this file only (no manifest entry, so it is retried)."""
    try:
        return import_file(paths, path, root, max_line_bytes, rel)
    except Exception as exc:
        log.debug("import of %s failed", path, exc_info=True)
        return failed_result(rel, exc), None


def _drop_pre_v2_copy(paths: DataPaths, entries: dict[str, Any], key: str) -> None:
    """Before READER_VERSION 2 a file outside the legacy root was keyed relative to the folder given
    on the command line (e.g. `game_x.jsonl`, root `/tmp/a`). Now that it is keyed by its absolute path,
    the rows written under the old key would stay as a duplicate: remove them and the old entry."""
    path = Path(key)
    for folder in path.parents:
        old_key = path.relative_to(folder).as_posix()
        old = entries.get(old_key)
        if old_key != key and old and old.get("root") == str(folder) and old.get("parquet"):
            replace_file_set(paths, DOC_TYPE, old["parquet"], {})
            replace_quarantine_file_set(paths, SOURCE, old["parquet"], {})
            del entries[old_key]
            log.info("%s: removed the rows it had under its pre-v2 key %r", key, old_key)


def _run(
    paths: DataPaths, todo: list[tuple[Path, Path | None, str]], workers: int | None, max_line_bytes: int
) -> Iterator[tuple[FileResult, dict[str, Any] | None]]:
    """Yield (result, manifest entry) per file, in completion order."""
    workers = workers if workers is not None else 1
    workers = max(1, min(workers, os.cpu_count() or 1))
    if workers <= 1 or len(todo) < _PARALLEL_MIN_FILES:
        for path, root, rel in todo:
            yield _import_one(paths, path, root, max_line_bytes, rel)
        return

    pending = {i: item for i, item in enumerate(todo)}
    try:
        # spawn, not fork: the caller may be a threaded Dagster run worker
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_import_one, paths, path, root, max_line_bytes, rel): i
                       for i, (path, root, rel) in pending.items()}
            for fut in as_completed(futures):
                out = fut.result()  # _import_one never raises; a dead pool raises BrokenProcessPool
                del pending[futures[fut]]
                yield out
    except BrokenProcessPool:
        # e.g. a __main__ that spawn cannot re-import (stdin); the rest runs here, rows are idempotent
        log.warning("worker processes unavailable; importing the remaining %d files in-process", len(pending))
        for path, root, rel in pending.values():
            yield _import_one(paths, path, root, max_line_bytes, rel)
