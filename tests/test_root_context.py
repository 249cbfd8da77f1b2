"""The data root explains itself: CONTEXT.md written on first use and kept current."""

from __future__ import annotations

from pathlib import Path

from vectra_capture.store import RawSink
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.root_context import refresh_root_context
from vectra_pipeline.derive.schema_manifest import SCHEMA_VERSION, ensure_manifest
from vectra_pipeline.derive.schemas import KEYS


def test_written_on_first_use_and_kept_current(tmp_path: Path) -> None:
    paths = DataPaths.resolve(tmp_path / "root")
    context = paths.root / "CONTEXT.md"
    assert not context.exists()
    RawSink(paths, "s1").close()  # the capture daemon's first step on a root
    text = context.read_text()
    assert "Parquet is the canonical truth" in text and "not written yet" in text

    ensure_manifest(paths)  # the first derivation writes the schema manifest
    text = context.read_text()
    assert f"schema version: {SCHEMA_VERSION}" in text
    assert f"| game_tick | {', '.join(KEYS['game_tick'])} |" in text
    assert refresh_root_context(paths) is False  # nothing changed: not rewritten

    paths.partition_dir("ws_event", "2025-10-29").mkdir(parents=True)
    assert refresh_root_context(paths) is True
    assert "doc_types with data: ws_event" in context.read_text()
