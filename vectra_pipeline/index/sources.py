"""What each table is built from: its source files (the checkpoint's keys) and the documents that a
set of new, changed or removed source files gives.

events: raw ws_event / system_event files, typed games / complete_game partitions and the protocol
verification manifest. code_context: every CONTEXT.md in the repo. debug_notes: docs/decisions/*.md
and debug_note Parquet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from vectra_capture.store import DEBUG_NOTE
from vectra_capture.store.layout import DataPaths
from vectra_pipeline import duck
from vectra_pipeline.index.docs import feed, games, player_games, protocol, repo
from vectra_pipeline.index.docs.common import WS_EVENT_AGGREGATE, Doc, dedupe, source_key
from vectra_pipeline.index.tables import TABLES

REPO_PREFIX = "repo:"  # checkpoint keys of repository files (the rest are relative to the data root)


def _parquet_files(paths: DataPaths, doc_type: str) -> dict[str, Path]:
    return {source_key(paths, p): p for p in sorted(paths.doc_type_dir(doc_type).glob("date=*/*.parquet"))}


def source_files(paths: DataPaths, table: str) -> dict[str, Path]:
    """Every file a table is built from, by checkpoint key."""
    if table == "events":
        out: dict[str, Path] = {}
        for doc_type in ("ws_event", "system_event", "games", "complete_game"):
            out.update(_parquet_files(paths, doc_type))
        verification = paths.manifests / "protocol_verification.json"  # statuses appear in protocol docs
        if verification.exists():
            out[source_key(paths, verification)] = verification
        return out
    if table == "code_context":
        return {REPO_PREFIX + r: f for r, f in repo.context_files()}
    if table == "debug_notes":
        return {**{REPO_PREFIX + r: f for r, f in repo.decision_files()}, **_parquet_files(paths, DEBUG_NOTE)}
    raise ValueError(f"unknown table {table!r}; tables: {TABLES}")


@dataclass
class DocBatch:
    docs: list[Doc] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # source_file values whose old rows are replaced
    invalid_rows: int = 0
    stats_files_computed: int = 0  # raw files whose protocol statistics were (re)computed


def docs_for(paths: DataPaths, table: str, keys: Iterable[str], files: dict[str, Path], full: bool) -> DocBatch:
    """Documents from the given changed/removed source keys (all sources when full)."""
    keys = set(keys)
    out = DocBatch(touched=set(keys))
    present = {k for k in keys if k in files}
    con = duck.connect()
    try:
        if table == "events":
            _event_docs(paths, con, out, keys, present, files, full)
        elif table == "code_context":
            for key in sorted(present):
                out.docs += repo.context_docs(key.removeprefix(REPO_PREFIX), files[key])
        elif table == "debug_notes":
            for key in sorted(present):
                if key.startswith(REPO_PREFIX):
                    out.docs.append(repo.decision_doc(key.removeprefix(REPO_PREFIX), files[key]))
                else:
                    out.docs += repo.note_docs_for_file(paths, con, files[key])
    finally:
        con.close()
    out.docs = dedupe(out.docs)
    return out


def _event_docs(paths: DataPaths, con: duckdb.DuckDBPyConnection, out: DocBatch, keys: set[str],
                present: set[str], files: dict[str, Path], full: bool) -> None:
    ws_changed = any(k.startswith((WS_EVENT_AGGREGATE, "manifests/")) for k in keys)
    games_files = {k: p for k, p in files.items() if "/doc_type=games/" in k}
    complete_changed = any("/doc_type=complete_game/" in k for k in keys)
    if full or ws_changed:
        built = protocol.protocol_docs(paths, con, use_cache=not full)
        out.docs += built.docs
        out.invalid_rows, out.stats_files_computed = built.invalid, built.files_computed
        out.touched.add(WS_EVENT_AGGREGATE)
        if not games_files:
            out.docs += games.game_docs_from_raw(paths, con)
    if games_files and (full or complete_changed or any(k in games_files for k in keys)):
        complete = games.complete_games(paths, con)
        redo = games_files if (full or complete_changed) else {k: p for k, p in games_files.items() if k in keys}
        for key, path in sorted(redo.items()):
            out.docs += games.game_docs_for_file(paths, con, path, complete)
            out.touched.add(key)
        out.touched.add(WS_EVENT_AGGREGATE)  # raw-derived game docs give way to the typed table
    ws_files = {k: p for k, p in files.items() if "/doc_type=ws_event/" in k}
    out.docs += player_games.player_game_docs(paths, con, ws_files, _player_game_seeds(ws_files, keys, present, full))
    for key in sorted(present):
        if "/doc_type=ws_event/" in key:
            out.docs += feed.short_docs_for_file(paths, con, files[key])
        elif "/doc_type=system_event/" in key:
            out.docs += feed.system_docs_for_file(paths, con, files[key])


def _player_game_seeds(ws_files: dict[str, Path], keys: set[str], present: set[str], full: bool) -> set[str]:
    """The raw files whose games get their trade and side-bet documents rebuilt: every file on a full
    build; else the new or changed ones and, for a removed file (whose games are unknown now), every
    remaining file of its date."""
    if full:
        return set(ws_files)
    seeds = {k for k in present if k in ws_files}
    gone_dates = {player_games.date_of(k) for k in keys - present if "/doc_type=ws_event/" in k}
    return seeds | {k for k in ws_files if player_games.date_of(k) in gone_dates}
