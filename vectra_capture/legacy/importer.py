"""Legacy JSONL recordings -> raw ws_event Parquet (source=replay) + quarantine. One code path for the
Dagster asset and `vectra legacy import`.

Rows follow CONTRACTS.md (legacy import): one Parquet file per (source file, UTC date) named
`legacy-<sha1(rel)[:16]>.parquet`, written with store.replace_file_set so a re-import replaces the
file's old rows wherever they were; quarantine rows go to the same name under quarantine/replay/.

A file's key (manifest key, origin_file, session_id and Parquet name are all derived from it) is its
name relative to the legacy root, or its absolute path when it lies outside that root (so two folders
holding the same file name never share rows).

Change detection (manifests/legacy_import.json, keyed by the file's key):
same size and mtime -> skipped without reading; otherwise the sha256 decides (same content, new
mtime -> skipped, manifest refreshed); a changed file, a new file or a new READER_VERSION -> imported.
Files that vanished from the legacy dir keep their rows (history is not deleted by accident).
A file whose import raises is recorded as `failed` (its manifest entry is left as it was, so the next
run tries it again) and the run goes on with the other files.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import multiprocessing
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from vectra_capture.legacy.reader import UNKNOWN, Counters, LegacyFile, read_legacy_file, relative_name
from vectra_capture.store import (
    FileLock,
    lock_path,
    read_manifest,
    replace_file_set,
    utc_date,
    write_manifest,
)
from vectra_capture.store.envelope import QUARANTINE_SCHEMA, WS_EVENT_SCHEMA
from vectra_capture.store.fingerprints import content_digest, same_stat, stat_entry
from vectra_capture.store.layout import DataPaths, default_legacy_dir
from vectra_capture.store.partitions import text_array
from vectra_capture.store.quarantine import replace_quarantine_file_set

log = logging.getLogger(__name__)

MANIFEST = "legacy_import"
READER_VERSION = 2  # v2: DST fall-back times placed by order, outside-root keys are absolute. Bump when the reader or the row shape changes: every file is re-imported
SOURCE = "replay"
DOC_TYPE = "ws_event"
_US_PER_DAY = 86_400_000_000  # the UTC day of a ts_us: ts_us // _US_PER_DAY (same as store.utc_date)
_TOTAL_KEYS = tuple(Counters().as_dict())  # the reader's counters, summed over files


@dataclass
class FileResult:
    """One file's outcome; counters are the reader's (see legacy_reader's docstring)."""

    file: str  # the file's key (the manifest key)
    status: str  # imported | skipped | unknown_format | failed
    format: str
    lines: int = 0
    imported: int = 0
    salvaged: int = 0
    salvaged_records: int = 0
    fragments: int = 0
    quarantined: int = 0
    blank: int = 0
    records: int = 0
    gameid_date_mismatch: int = 0
    quarantine_rows: int = 0
    bytes: int = 0
    games: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    detail: str = ""  # unknown format: why; failed: the error


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


# ---------------------------------------------------------------- rows


def _ws_tables(lf: LegacyFile, session_id: str) -> dict[str, Any]:
    """date -> WS_EVENT table of the file's records."""

    by_day: dict[int, list] = {}
    for rec in lf.records:
        by_day.setdefault(rec.ts_us // _US_PER_DAY, []).append(rec)
    tables: dict[str, Any] = {}
    for day, recs in sorted(by_day.items()):
        n = len(recs)
        cols = {
            "ts": pa.array([r.ts_us for r in recs], type=pa.int64()).cast(WS_EVENT_SCHEMA.field("ts").type),
            "source": text_array([SOURCE] * n),
            "doc_type": text_array([DOC_TYPE] * n),
            "session_id": text_array([session_id] * n),
            "game_id": text_array([r.game_id for r in recs]),
            "player_id": text_array([r.player_id for r in recs]),
            "username": text_array([r.username for r in recs]),
            "seq": pa.array([r.index for r in recs], type=pa.int64()),
            "direction": text_array([r.direction for r in recs]),
            "raw_json": _raw_json_array([r.raw_json() for r in recs]),
            "event_name": text_array([r.event_name for r in recs]),
            "origin_file": text_array([lf.rel] * n),
            "origin_line": pa.array([r.line_no for r in recs], type=pa.int64()),
        }
        tables[utc_date(day * _US_PER_DAY)] = pa.Table.from_arrays(  # columns legacy lines never state: null
            [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in WS_EVENT_SCHEMA], schema=WS_EVENT_SCHEMA
        )
    return tables


_SURROGATE = re.compile("[\ud800-\udfff]")


def _raw_json_array(values: list[str]) -> Any:
    """raw_json as a string column. A lone surrogate (half an emoji, `\\ud83d` in the file) cannot be
    stored as UTF-8; inside JSON text it can only sit in a string value, so it is written back as its
    escape: the text stays valid JSON that decodes to the same value (only when needed: it is rare)."""
    try:
        return pa.array(values, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return text_array([_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", v) for v in values])


def _quarantine_tables(lf: LegacyFile, session_id: str) -> dict[str, Any]:
    """date -> QUARANTINE table. A quarantined line takes the time of the record before it (else
    after it; a file without records: its mtime) so it lands next to its neighbours."""

    if not lf.quarantined:
        return {}
    lines = [r.line_no for r in lf.records]
    by_day: dict[int, list] = {}
    for seq, item in enumerate(lf.quarantined):
        if lines:
            i = bisect.bisect_right(lines, item.line_no) - 1
            ts = lf.records[max(i, 0)].ts_us
        else:
            ts = lf.mtime_ns // 1000
        by_day.setdefault(ts // _US_PER_DAY, []).append((ts, seq, item))
    tables: dict[str, Any] = {}
    for day, rows in sorted(by_day.items()):
        n = len(rows)
        cols = {
            "ts": pa.array([r[0] for r in rows], type=pa.int64()).cast(QUARANTINE_SCHEMA.field("ts").type),
            "source": text_array([SOURCE] * n),
            "session_id": text_array([session_id] * n),
            "seq": pa.array([r[1] for r in rows], type=pa.int64()),
            "origin": text_array([f"{lf.rel}:{r[2].line_no}" for r in rows]),
            "reason": text_array([r[2].reason for r in rows]),
            "raw": pa.array([r[2].raw for r in rows], type=pa.binary()),
        }
        tables[utc_date(day * _US_PER_DAY)] = pa.Table.from_arrays(
            [cols[f.name] for f in QUARANTINE_SCHEMA], schema=QUARANTINE_SCHEMA
        )
    return tables


def import_file(paths: DataPaths, path: Path, root: Path | None) -> tuple[FileResult, dict[str, Any]]:
    """Read one file and replace its rows in the store. Returns the result and its manifest entry."""

    lf = read_legacy_file(path, root)
    sid = session_id_for(lf.rel)
    name = parquet_name_for(lf.rel)
    ws = _ws_tables(lf, sid)
    quarantine = _quarantine_tables(lf, sid)
    replace_file_set(paths, DOC_TYPE, name, ws)
    replace_quarantine_file_set(paths, SOURCE, name, quarantine)
    result = FileResult(
        file=lf.rel, status="unknown_format" if lf.format == UNKNOWN else "imported", format=lf.format,
        **lf.counters.as_dict(), quarantine_rows=len(lf.quarantined), bytes=lf.size,
        games=sorted(lf.game_ids), dates=sorted(set(ws) | set(quarantine)), detail=lf.detail,
    )
    entry = {
        "size": lf.size, "mtime_ns": lf.mtime_ns, "sha256": lf.sha256, "reader_version": READER_VERSION,
        "root": str(root) if root else None, "parquet": name, "imported_at": time.time(), "result": asdict(result),
    }
    return result, entry


# ---------------------------------------------------------------- the run


def _unchanged(path: Path, entry: dict[str, Any] | None) -> tuple[bool, dict[str, Any] | None]:
    """(skip?, refreshed entry). Stat first; hash only when size or mtime moved."""
    if not entry or entry.get("reader_version") != READER_VERSION:
        return False, None
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
    on_file: Callable[[FileResult], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Import every legacy file under `sources` (default: the legacy root). Returns the summary.

    Files are independent (each owns its Parquet names), so `workers` > 1 imports changed files in that
    many processes; the manifest is written only by this process. Default 1: on the shared 2-core
    machines measured, two workers gave no gain (bench/legacy.py) and spawning costs ~1 s."""
    started = time.perf_counter()
    files = discover(sources, legacy_root)
    if on_plan:
        on_plan(len(files))
    results: dict[str, FileResult] = {}
    with FileLock(lock_path(paths, MANIFEST)):
        manifest = read_manifest(paths, MANIFEST) or {"version": 1, "files": {}}
        entries: dict[str, Any] = manifest.setdefault("files", {})
        dirty = 0

        def done(res: FileResult, entry: dict[str, Any] | None) -> None:
            nonlocal dirty
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
            if dirty >= 200:  # bound the redo after a crash without rewriting the manifest per file
                write_manifest(paths, MANIFEST, manifest)
                dirty = 0

        try:
            todo: list[tuple[Path, Path | None]] = []
            for path, root in files:
                rel = relative_name(path, root)
                try:
                    skip, refreshed = (False, None) if force else _unchanged(path, entries.get(rel))
                except Exception as exc:  # e.g. removed since discovery: this file fails, not the run
                    done(_failed(rel, exc), None)
                    continue
                if skip:
                    prev = entries[rel].get("result", {})
                    done(FileResult(**{**prev, "file": rel, "status": "skipped"}), refreshed)
                else:
                    todo.append((path, root))
            for res, entry in _run(paths, todo, workers):
                done(res, entry)
        finally:
            if dirty:
                write_manifest(paths, MANIFEST, manifest)
    ordered = [results[relative_name(p, r)] for p, r in files]
    return summarize(ordered, time.perf_counter() - started, paths)


def _failed(rel: str, exc: BaseException) -> FileResult:
    return FileResult(file=rel, status="failed", format="", detail=f"{type(exc).__name__}: {exc}")


def _import_one(paths: DataPaths, path: Path, root: Path | None) -> tuple[FileResult, dict[str, Any] | None]:
    """import_file, isolated: an error fails this file only (no manifest entry, so it is retried)."""
    try:
        return import_file(paths, path, root)
    except Exception as exc:
        log.debug("import of %s failed", path, exc_info=True)
        return _failed(relative_name(path, root), exc), None


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


_PARALLEL_MIN_FILES = 16  # below this, starting worker processes costs more than it saves


def _run(paths: DataPaths, todo: list[tuple[Path, Path | None]], workers: int | None):  # noqa: ANN202
    """Yield (result, manifest entry) per file, in completion order."""
    workers = workers if workers is not None else 1
    workers = max(1, min(workers, os.cpu_count() or 1))
    if workers <= 1 or len(todo) < _PARALLEL_MIN_FILES:
        for path, root in todo:
            yield _import_one(paths, path, root)
        return

    pending = {i: item for i, item in enumerate(todo)}
    try:
        # spawn, not fork: the caller may be a threaded Dagster run worker
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_import_one, paths, path, root): i for i, (path, root) in pending.items()}
            for fut in as_completed(futures):
                out = fut.result()  # _import_one never raises; a dead pool raises BrokenProcessPool
                del pending[futures[fut]]
                yield out
    except BrokenProcessPool:
        # e.g. a __main__ that spawn cannot re-import (stdin); the rest runs here, rows are idempotent
        log.warning("worker processes unavailable; importing the remaining %d files in-process", len(pending))
        for path, root in pending.values():
            yield _import_one(paths, path, root)


def summarize(results: list[FileResult], seconds: float, paths: DataPaths) -> dict[str, Any]:
    """Totals over the files imported in this run (skipped files count only in `skipped`)."""
    done = [r for r in results if r.status != "skipped"]
    totals = {k: sum(getattr(r, k) for r in done) for k in _TOTAL_KEYS}
    return {
        "files": len(results),
        "imported_files": sum(r.status == "imported" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
        "unknown_format": sum(r.format == UNKNOWN for r in results),
        **totals,
        "quarantine_rows": sum(r.quarantine_rows for r in done),
        "bytes": sum(r.bytes for r in done),
        "games": len({g for r in done for g in r.games}),
        "dates": sorted({d for r in done for d in r.dates}),
        "seconds": round(seconds, 3),
        "data_dir": str(paths.root),
        "per_file": [asdict(r) for r in results],
    }


def per_file_markdown(summary: dict[str, Any], limit: int = 300) -> str:
    """The per-file status table (failed first, then imported and unknown, then skipped), for asset
    metadata."""
    rows = sorted(summary["per_file"], key=lambda r: (r["status"] != "failed", r["status"] == "skipped", r["file"]))
    out = [
        "| file | status | format | lines | imported | salvaged (records) | quarantined | fragments | blank |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows[:limit]:
        out.append(
            f"| {r['file']} | {r['status']} | {r['format']} | {r['lines']} | {r['imported']} | "
            f"{r['salvaged']} ({r['salvaged_records']}) | {r['quarantined']} | {r['fragments']} | {r['blank']} |"
        )
    if len(rows) > limit:
        out.append(f"| ... {len(rows) - limit} more | | | | | | | | |")
    return "\n".join(out)
