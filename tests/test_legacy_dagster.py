"""The legacy_recordings asset materialized for real into a tmp data root, and its sensor evaluated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
from legacy_helpers import copy_fixtures, plain_counts, query

from vectra_pipeline.defs.legacy.assets import legacy_recordings
from vectra_pipeline.defs.legacy.resources import LegacyImportResource
from vectra_pipeline.defs.legacy.sensors import legacy_recordings_sensor

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
        assert meta["files"].value == 3 and meta["imported_files"].value == 3
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

        again = dg.materialize([legacy_recordings], resources={"legacy_import": resource}, instance=instance)
        meta2 = again.asset_materializations_for_node("legacy_recordings")[0].metadata
        assert meta2["skipped_files"].value == 3 and meta2["records"].value == 0
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


def test_sensor_requests_a_run_only_when_files_change(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES[:2])
    resource = LegacyImportResource(legacy_dir=str(legacy), data_dir=str(tmp_path / "data"))
    instance = dg.DagsterInstance.ephemeral()

    def evaluate(cursor: str | None) -> dg.SensorResult:
        ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"legacy_import": resource})
        return legacy_recordings_sensor(ctx)

    first = evaluate(None)
    assert len(first.run_requests) == 1  # never seen: import them
    assert set(json.loads(first.cursor)) == set(FILES[:2])

    quiet = evaluate(first.cursor)
    assert not quiet.run_requests and quiet.cursor == first.cursor

    with open(legacy / FILES[0], "a") as fh:
        fh.write('{"type": "game_end", "timestamp": "2025-10-30T12:30:00", "game_id": "x"}\n')
    changed = evaluate(quiet.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key

    copy_fixtures(legacy, FILES[2:])
    added = evaluate(changed.cursor)
    assert len(added.run_requests) == 1 and FILES[2] in json.loads(added.cursor)
    assert not evaluate(added.cursor).run_requests

    missing = LegacyImportResource(legacy_dir=str(tmp_path / "nope"), data_dir=str(tmp_path / "data"))
    ctx = dg.build_sensor_context(instance=instance, resources={"legacy_import": missing})
    assert isinstance(legacy_recordings_sensor(ctx), dg.SkipReason)
