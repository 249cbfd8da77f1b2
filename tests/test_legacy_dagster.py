"""The legacy_recordings asset materialized for real into a tmp data root, and its sensor evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
from legacy_helpers import copy_fixtures, plain_counts, query

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store.envelope import RAW_SCHEMAS
from vectra_pipeline.defs.legacy.assets import legacy_recordings
from vectra_pipeline.defs.legacy.resources import LegacyImportResource
from vectra_pipeline.defs.legacy.sensors import RETRY_SECONDS, legacy_recordings_sensor

FILES = ["game_20251030_121110_da674ded.jsonl", "game_20251031_150533.jsonl", "game_20251102_184324.jsonl"]


def test_asset_materializes_with_per_file_metadata(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES)
    data = tmp_path / "data"
    resource = LegacyImportResource(legacy_dir=str(legacy), data_dir=str(data))
    with dg.instance_for_test() as instance:
        result = dg.materialize([legacy_recordings], resources={"legacy_import": resource}, instance=instance)
        assert result.success
        meta = result.asset_materializations_for_node("legacy_recordings")[0].metadata
        plain = [plain_counts(legacy / f) for f in FILES]
        assert meta["files"].value == 3 and meta["imported_files"].value == 3 and meta["failed_files"].value == 0
        assert meta["lines"].value == sum(p.lines for p in plain)
        assert meta["blank_lines"].value == sum(p.blank for p in plain)
        assert meta["imported_lines"].value == sum(p.clean for p in plain)
        assert meta["salvaged_lines"].value + meta["quarantined_lines"].value == sum(len(p.broken) for p in plain)
        assert meta["dates_touched"].value == ["2025-10-30", "2025-10-31", "2025-11-02"]
        table = meta["per_file"].value
        for f in FILES:
            assert f in table
        rows = query(f"SELECT count(*) FROM read_parquet('{data}/events_parquet/doc_type=ws_event/*/*.parquet')")
        assert rows == [(meta["records"].value,)]
        # Dagster's standard keys: every legacy row in the store, the raw columns, a preview of rows
        assert rows == [(meta["dagster/row_count"].value,)]
        assert [c.name for c in meta["dagster/column_schema"].value.columns] == RAW_SCHEMAS["ws_event"].names
        assert "| ts | event_name |" in meta["preview"].value and "legacy-" in meta["preview"].value

        again = dg.materialize([legacy_recordings], resources={"legacy_import": resource}, instance=instance)
        meta2 = again.asset_materializations_for_node("legacy_recordings")[0].metadata
        assert meta2["skipped_files"].value == 3 and meta2["records"].value == 0
        assert meta2["dagster/row_count"].value == meta["dagster/row_count"].value  # still in the store
        assert "| skipped |" in meta2["per_file"].value


def test_asset_is_in_the_landing_group_of_the_code_location() -> None:
    spec = next(iter(legacy_recordings.specs))
    assert spec.key == dg.AssetKey("legacy_recordings") and spec.group_name == "landing"
    # loading the whole code location pulls in no heavy library and finds the asset and the sensor
    code = (
        "import sys; from vectra_pipeline.definitions import defs; d = defs(); "
        "keys = [k.to_user_string() for k in d.resolve_asset_graph().get_all_asset_keys()]; "
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'lancedb') if m in sys.modules); "
        "import json; print(json.dumps({'keys': keys, 'sensors': [s.name for s in d.sensors], 'heavy': heavy}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert "legacy_recordings" in info["keys"] and "legacy_recordings_sensor" in info["sensors"]
    assert info["heavy"] == []


def _evaluator(resource: LegacyImportResource):  # noqa: ANN202
    instance = dg.DagsterInstance.ephemeral()

    def evaluate(cursor: str | None) -> dg.SensorResult:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"legacy_import": resource})
        return legacy_recordings_sensor(ctx)

    return evaluate


def _aged(cursor: str) -> str:
    """The same cursor, its request made RETRY_SECONDS ago (instead of waiting that long)."""
    c = json.loads(cursor)
    c["requested_at"] -= RETRY_SECONDS + 1
    return json.dumps(c)


def test_sensor_requests_a_run_only_when_files_change(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES[:2])
    resource = LegacyImportResource(legacy_dir=str(legacy), data_dir=str(tmp_path / "data"))
    evaluate = _evaluator(resource)

    first = evaluate(None)
    assert len(first.run_requests) == 1  # never imported: import them
    assert set(json.loads(first.cursor)["changed"]) == set(FILES[:2])

    waiting = evaluate(first.cursor)  # the run has not happened yet: no second request
    assert not waiting.run_requests and waiting.cursor == first.cursor

    import_legacy(None, resource.data_paths(), legacy_root=legacy)  # the run succeeded
    assert not evaluate(waiting.cursor).run_requests

    with open(legacy / FILES[0], "a") as fh:
        fh.write('{"type": "game_end", "timestamp": "2025-10-30T12:30:00", "game_id": "x"}\n')
    changed = evaluate(waiting.cursor)
    assert len(changed.run_requests) == 1 and json.loads(changed.cursor)["changed"] == [FILES[0]]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key

    copy_fixtures(legacy, FILES[2:])
    added = evaluate(changed.cursor)
    assert len(added.run_requests) == 1 and json.loads(added.cursor)["changed"] == sorted([FILES[0], FILES[2]])
    assert not evaluate(added.cursor).run_requests

    missing = LegacyImportResource(legacy_dir=str(tmp_path / "nope"), data_dir=str(tmp_path / "data"))
    ctx = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), resources={"legacy_import": missing})
    assert isinstance(legacy_recordings_sensor(ctx), dg.SkipReason)


def test_sensor_rerequests_files_whose_import_failed(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES)
    resource = LegacyImportResource(legacy_dir=str(legacy), data_dir=str(tmp_path / "data"))
    paths = resource.data_paths()
    evaluate = _evaluator(resource)
    # a run that imports two files and fails on the third (its date folder cannot be written)
    blocker = paths.events_parquet / "doc_type=ws_event" / "date=2025-10-30"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")
    s = import_legacy(None, paths, legacy_root=legacy)
    assert s["failed"] == 1 and s["imported_files"] == 2

    first = evaluate(None)
    assert len(first.run_requests) == 1 and json.loads(first.cursor)["changed"] == [FILES[0]]
    assert not evaluate(first.cursor).run_requests  # just requested: give that run time
    retry = evaluate(_aged(first.cursor))  # that run failed too and time has passed: ask again
    assert len(retry.run_requests) == 1 and retry.run_requests[0].run_key != first.run_requests[0].run_key
    assert json.loads(retry.cursor)["changed"] == [FILES[0]]

    blocker.unlink()
    assert import_legacy(None, paths, legacy_root=legacy)["imported_files"] == 1
    assert not evaluate(_aged(retry.cursor)).run_requests  # imported at last: nothing left to ask for
