"""The vector assets and their model check run in Dagster; the protocol CLI and its manifest."""

from __future__ import annotations

import json
import threading

import dagster as dg
from click.testing import CliRunner
from vectors_helpers import write_fixture_raw

from vectra_capture.store import FileLock, read_manifest, write_manifest
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main
from vectra_pipeline.defs.vectors.assets import vector_assets, vector_checks, vectors_schedule
from vectra_pipeline.defs.vectors.resources import VectorIndexResource
from vectra_pipeline.index.checkpoint import CHECKPOINT
from vectra_pipeline.index.docs.repo import repo_root
from vectra_pipeline.index.locks import table_lock_path
from vectra_pipeline.index.tables import TABLES


def test_asset_metadata_and_model_check(tmp_path) -> None:
    paths = DataPaths.resolve(tmp_path)
    notes = [a for a in vector_assets if a.key == dg.AssetKey("vectors_debug_notes")]
    checks = [c for c in vector_checks if dg.AssetKey("vectors_debug_notes") in {k.asset_key for k in c.check_keys}]
    resources = {"vector_index": VectorIndexResource(data_dir=str(tmp_path))}
    result = dg.materialize([*notes, *checks], resources=resources)
    assert result.success
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["documents_embedded"].value == len(list((repo_root() / "docs" / "decisions").glob("*.md")))
    assert {"documents_skipped", "seconds", "docs_per_s"} <= set(meta)
    # Dagster's standard keys: the table's rows, its columns, a preview of its first rows
    assert meta["dagster/row_count"].value == meta["documents_embedded"].value
    columns = [c.name for c in meta["dagster/column_schema"].value.columns]
    assert columns[:3] == ["id", "text", "vector"] and "text_hash" in columns
    assert "| id | text |" in meta["preview"].value and "vector" not in meta["preview"].value.splitlines()[0]
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    # second run: nothing new, nothing embedded
    again = dg.materialize([*notes], resources=resources)
    assert again.get_asset_materialization_events()[0].materialization.metadata["documents_embedded"].value == 0
    # another model recorded in the manifest: the check fails and says what to do
    manifest = read_manifest(paths, CHECKPOINT)
    write_manifest(paths, CHECKPOINT, {**manifest, "model": "other-model", "dim": 768})
    failed = dg.materialize([*notes], resources=resources, raise_on_error=False)
    assert not failed.success  # the incremental build refuses to mix models
    evaluation = checks[0](vector_index=resources["vector_index"])
    assert not evaluation.passed and "rebuild with --full" in evaluation.description
    # the right model, but a table built with older documents (a checkpoint from before their version)
    entry = {k: v for k, v in manifest["tables"]["debug_notes"].items() if k != "docs_version"}
    write_manifest(paths, CHECKPOINT, {**manifest, "tables": {**manifest["tables"], "debug_notes": entry}})
    evaluation = checks[0](vector_index=resources["vector_index"])
    assert not evaluation.passed and "documents version 1" in evaluation.description
    assert "rebuild with --full" in evaluation.description
    assert not dg.materialize([*notes], resources=resources, raise_on_error=False).success
    assert vectors_schedule.cron_schedule == "*/15 * * * *"
    assert {a.key.to_user_string(): a.op.pool for a in vector_assets} == {
        f"vectors_{t}": f"vectors_{t}" for t in TABLES}


def _notes_asset_and_checks() -> list:
    key = dg.AssetKey("vectors_debug_notes")
    return [*[a for a in vector_assets if a.key == key],
            *[c for c in vector_checks if key in {k.asset_key for k in c.check_keys}]]


def test_scheduled_run_skips_a_table_a_cli_build_holds(tmp_path) -> None:
    """A `vectra index build` holding the table's lock: the run waits (bounded), then skips that table
    with the reason in the asset's event log, and stays green."""
    resources = {"vector_index": VectorIndexResource(data_dir=str(tmp_path), lock_wait_seconds=0.5)}
    with FileLock(table_lock_path(DataPaths.resolve(tmp_path), "debug_notes")):  # the CLI build's real lock
        result = dg.materialize(_notes_asset_and_checks(), resources=resources)
    assert result.success
    assert result.get_asset_materialization_events() == []  # nothing was written, so nothing claims it was
    [observation] = [e.asset_observation_data.asset_observation for e in result.all_events
                     if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION]
    assert observation.asset_key == dg.AssetKey("vectors_debug_notes")
    assert observation.metadata["skipped"].value is True
    reason = observation.metadata["reason"].value
    assert "another index build" in reason and "0.5 s" in reason and "vectors_debug_notes.lock" in reason


def test_scheduled_run_waits_for_a_lock_released_in_time(tmp_path) -> None:
    resources = {"vector_index": VectorIndexResource(data_dir=str(tmp_path), lock_wait_seconds=60)}
    lock = FileLock(table_lock_path(DataPaths.resolve(tmp_path), "debug_notes")).acquire()
    releaser = threading.Timer(1.0, lock.release)
    releaser.start()
    try:
        result = dg.materialize(_notes_asset_and_checks(), resources=resources)
    finally:
        releaser.join()
    assert result.success
    [materialization] = result.get_asset_materialization_events()
    assert materialization.materialization.metadata["documents_embedded"].value > 0


def test_protocol_show_and_verify(tmp_path) -> None:
    write_fixture_raw(DataPaths.resolve(tmp_path))
    runner = CliRunner()
    out = runner.invoke(main, ["protocol", "show", "playerUpdate", "--json", "--data-dir", str(tmp_path)])
    shown = json.loads(out.stdout)
    assert shown["needs_login"] is True and shown["verification"]["status"] == "verified"
    assert shown["rows_seen"] == 2  # two playerUpdate files among auth_examples
    out = runner.invoke(main, ["protocol", "verify", "goldenHourUpdate", "--status", "needs-correction",
                               "--note", "never seen", "--data-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    manifest = read_manifest(DataPaths.resolve(tmp_path), "protocol_verification")
    assert manifest["events"]["goldenHourUpdate"]["status"] == "needs-correction"
    listing = json.loads(runner.invoke(main, ["protocol", "show", "--json", "--data-dir", str(tmp_path)]).stdout)
    assert {e["name"] for e in listing} >= {"gameStateUpdate", "standard/newTrade", "goldenHourUpdate"}
