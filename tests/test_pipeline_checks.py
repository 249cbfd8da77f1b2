"""Each asset check fails on data made to fail it; the hourly schedule and the landing sensor."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pipeline_helpers import fixture_events, fixture_records, land, pipeline_resources, raw_dates, raw_paths
from test_pipeline_assets import LEGACY_SPEC, TYPED, materialize_all

from vectra_capture.store import atomic_write_bytes, replace_partition, write_manifest, write_partition_file
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.landing.assets import system_event, ws_event
from vectra_pipeline.defs.typed import checks
from vectra_pipeline.defs.typed.sensors import landing_zone_sensor
from vectra_pipeline.derive.schema_manifest import SCHEMA_VERSION, check_manifest, expected_manifest, migrate
from vectra_pipeline.query import Query


def resources(paths: DataPaths) -> dict:
    return pipeline_resources(paths)


def run_checks(paths: DataPaths, *selected: dg.AssetCheckKey) -> dict[str, dg.AssetCheckEvaluation]:
    """Only the `selected` checks run (each multi-check step evaluates the checks selected of it)."""
    result = dg.materialize([*TYPED, ws_event, system_event, LEGACY_SPEC, *checks.TYPED_CHECKS],
                            selection=dg.AssetSelection.checks(*selected), resources=resources(paths),
                            raise_on_error=False)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {k.name for k in selected}
    return evaluations


def schema_job_defs(paths: DataPaths) -> dg.Definitions:
    return dg.Definitions(
        assets=[ws_event, system_event],
        asset_checks=[checks.schema_manifest_check, checks.schema_drift_check],
        jobs=[checks.schema_checks_job],
        schedules=[checks.schema_checks_hourly],
        resources=resources(paths),
    )


def run_schema_job(paths: DataPaths) -> dict[str, dg.AssetCheckEvaluation]:
    job = schema_job_defs(paths).resolve_job_def("schema_checks_job")
    result = job.execute_in_process(raise_on_error=False)
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


@pytest.fixture
def derived(request: pytest.FixtureRequest, tmp_path: Path) -> DataPaths:
    paths = raw_paths(request, tmp_path, captured=False)  # the capture path is covered in test_pipeline_assets
    for result in materialize_all(paths):
        assert result.success
    return paths


def first_partition(paths: DataPaths, name: str) -> tuple[str, pa.Table]:
    f = sorted(paths.doc_type_dir(name).glob("date=*/*.parquet"))[0]
    return f.parent.name.split("=", 1)[1], pq.read_table(f)


def test_tampered_seed_fails_the_blocking_check(tmp_path: Path) -> None:
    events = copy.deepcopy(fixture_events())
    tampered = None
    for _ts, name, data in events:
        if name == "gameStateUpdate" and isinstance(data, dict) and data.get("gameHistory"):
            tampered = tampered or data["gameHistory"][0]["id"]
            for entry in data["gameHistory"]:
                if entry["id"] == tampered:
                    entry["provablyFair"]["serverSeed"] = "0" * 64
    paths = DataPaths(tmp_path / "data")
    land(paths, fixture_records("tampered", events), "tampered")
    date = raw_dates(paths)[0]
    result = dg.materialize([*TYPED, ws_event, system_event, LEGACY_SPEC, *checks.TYPED_CHECKS],
                            partition_key=date, resources=resources(paths), raise_on_error=False,
                            selection=dg.AssetSelection.assets(*TYPED) | dg.AssetSelection.checks(checks.SEED_VERIFIED))
    seed = [e for e in result.get_asset_check_evaluations() if e.check_name == "seed_verified"][0]
    assert not seed.passed and seed.metadata["unverified"].value == 1
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "complete_game" in materialized and "games" not in materialized  # blocked downstream
    rows = pq.read_table(paths.partition_dir("complete_game", date) / "complete_game.parquet").to_pylist()
    assert [r["game_id"] for r in rows if not r["seed_verified"]] == [tampered]


def test_duplicated_key_fails_uniqueness(derived: DataPaths) -> None:
    assert all(e.passed for e in run_checks(derived, *checks.KEY_UNIQUE.values()).values())
    date, t = first_partition(derived, "game_tick")
    replace_partition(derived, "game_tick", date, pa.concat_tables([t, t.slice(0, 1)]))
    evals = run_checks(derived, *checks.KEY_UNIQUE.values())
    assert not evals["game_tick_key_unique"].passed
    assert evals["game_tick_key_unique"].metadata["duplicate_keys"].value == 1
    assert evals["player_action_key_unique"].passed


def test_reconciliation_catches_a_missing_row_and_counts_model_failures(derived: DataPaths) -> None:
    assert run_checks(derived, checks.RECONCILIATION)["reconciliation"].passed
    # a trade that fails its model (price is not a number) is counted, not missing
    ts, _name, data = next(e for e in fixture_events() if e[1] == "standard/newTrade")
    bad = copy.deepcopy(data)
    bad[-1]["price"] = "not-a-price"
    bad[-1]["id"] = "bad-trade"
    land(derived, fixture_records("bad", [(ts, "standard/newTrade", bad)]), "bad")
    for result in materialize_all(derived):
        assert result.success
    rec = run_checks(derived, checks.RECONCILIATION)["reconciliation"]
    assert rec.passed and rec.metadata["model_failures"].value == 1
    # a typed row that disappears is caught
    date, t = first_partition(derived, "game_tick")
    replace_partition(derived, "game_tick", date, t.slice(1))
    rec = run_checks(derived, checks.RECONCILIATION)["reconciliation"]
    assert not rec.passed and rec.metadata["missing_from_typed"].value == 1


def test_manifest_check_missing_garbled_old_and_mismatched(derived: DataPaths, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from vectra_pipeline.derive import schema_manifest

    manifest = derived.manifests / "schema_version.json"
    assert run_schema_job(derived)["schema_manifest"].passed
    text = manifest.read_text()

    manifest.unlink()
    assert not run_schema_job(derived)["schema_manifest"].passed
    atomic_write_bytes(manifest, b"{not json")
    assert not run_schema_job(derived)["schema_manifest"].passed
    atomic_write_bytes(manifest, json.dumps({**json.loads(text), "version": SCHEMA_VERSION - 1}).encode())
    assert not run_schema_job(derived)["schema_manifest"].passed
    monkeypatch.delitem(schema_manifest.MIGRATIONS, SCHEMA_VERSION - 1)
    refused = migrate(derived)  # no step registered for the bump: the manifest is not rewritten
    assert not refused.passed and refused.details["missing"] == [f"{SCHEMA_VERSION - 1}->{SCHEMA_VERSION}"]
    assert not run_schema_job(derived)["schema_manifest"].passed
    steps: list[int] = []
    monkeypatch.setitem(schema_manifest.MIGRATIONS, SCHEMA_VERSION - 1, lambda _paths: steps.append(1))
    assert migrate(derived).passed and steps == [1]  # an explicit no-op step
    assert run_schema_job(derived)["schema_manifest"].passed

    date, t = first_partition(derived, "game_tick")
    write_partition_file(derived, "game_tick", date, "stray.parquet", t.append_column("surprise", pa.array([1] * len(t))))
    evaluation = run_schema_job(derived)["schema_manifest"]
    assert not evaluation.passed and evaluation.metadata["mismatches"].value == 1


def _typed_counts(paths: DataPaths) -> dict[str, int]:
    q = Query(paths)
    try:
        return {t: q.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"]
                for t in ("game_tick", "player_action", "server_state", "complete_game", "games")}
    finally:
        q.close()


def test_v1_files_mixed_with_v2_files(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Schema v2 added ws_event.namespace / ack_id (v3 socket_id). A data root whose older files lack
    them migrates without rewriting them; the check, the typed derivations and the query views all
    work on the mix."""
    paths = raw_paths(request, tmp_path, captured=False)
    old_files = sorted(paths.doc_type_dir("ws_event").glob("date=*/*.parquet"))
    assert old_files
    for f in old_files:  # as written by v1 code
        table = pq.read_table(f).drop_columns(["namespace", "ack_id", "socket_id"])
        write_partition_file(paths, "ws_event", f.parent.name.split("=", 1)[1], f.name, table)
    v1 = expected_manifest()
    v1 = {"version": 1, "doc_types": {**v1["doc_types"], "ws_event": {
        k: t for k, t in v1["doc_types"]["ws_event"].items() if k not in ("namespace", "ack_id", "socket_id")}}}
    write_manifest(paths, "schema_version", v1)
    q = Query(paths)  # every v2 column is in the view, null for v1 rows
    assert q.rows("SELECT count(*) > 0 AS rows, count(namespace) AS ns, count(ack_id) AS ids FROM ws_event"
                  ) == [{"rows": True, "ns": 0, "ids": 0}]
    q.close()

    assert not check_manifest(paths).passed  # v1 manifest, v3 code
    migrated = migrate(paths)
    assert migrated.passed and migrated.details["migrations"] == ["1->2", "2->3"]
    checked = check_manifest(paths)
    assert checked.passed and checked.details["files_checked"] >= len(old_files), checked
    # v2 rows next to them: a namespaced event with an ack id, and an ack
    first = fixture_records("auth")[0]
    land(paths, [
        RawRecord("ws_event", first.ts_us, 0, "public_ws", "v2", b'["askEvt",{"q":1}]', event_name="askEvt",
                  namespace="/admin", ack_id=3),
        RawRecord("ws_event", first.ts_us + 1, 1, "public_ws", "v2", b'["answer"]', event_name="__ack__", ack_id=3),
    ], "v2")
    assert check_manifest(paths).passed
    for result in materialize_all(paths):
        assert result.success
    q = Query(paths)
    got = q.rows("SELECT event_name, namespace, ack_id FROM ws_event WHERE session_id = 'v2' ORDER BY seq")
    totals = q.rows("SELECT count(*) AS n, count(namespace) AS ns, count(ack_id) AS ids FROM ws_event")[0]
    q.close()
    assert got == [{"event_name": "askEvt", "namespace": "/admin", "ack_id": 3},
                   {"event_name": "__ack__", "namespace": None, "ack_id": 3}]
    assert totals["ns"] == 1 and totals["ids"] == 2 and totals["n"] > 2
    # the typed tables are what the same events give when every file is v2
    fresh = raw_paths(request, tmp_path / "fresh", captured=False)
    for result in materialize_all(fresh):
        assert result.success
    assert _typed_counts(paths) == _typed_counts(fresh) and all(_typed_counts(fresh).values())


def test_drift_warns_on_unknown_fields(derived: DataPaths) -> None:
    drift = run_schema_job(derived)["schema_drift"]
    assert drift.passed
    ts, _name, data = next(e for e in fixture_events() if e[1] == "gameStateUpdate" and e[2].get("leaderboard"))
    changed = copy.deepcopy(data)
    changed["brandNewField"] = 1
    changed["leaderboard"][0]["newEntryField"] = True
    land(derived, fixture_records("drift", [(ts, "gameStateUpdate", changed)]), "drift")
    drift = run_schema_job(derived)["schema_drift"]
    assert not drift.passed and drift.severity == dg.AssetCheckSeverity.WARN
    fields = {(f["event"], f["field"]): f["count"] for f in drift.metadata["unknown_fields"].value}
    assert fields == {("gameStateUpdate", "brandNewField"): 1, ("gameStateUpdate.leaderboard", "newEntryField"): 1}


def test_hourly_schedule_runs_the_check_job(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    defs = schema_job_defs(paths)
    schedule = defs.resolve_schedule_def("schema_checks_hourly")
    assert schedule.cron_schedule == "0 * * * *" and schedule.job_name == "schema_checks_job"
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance)
        requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1
    job = defs.resolve_job_def("schema_checks_job")
    assert {k.name for k in job.asset_layer.asset_graph.asset_check_keys} >= {"schema_manifest", "schema_drift"}
    evals = run_schema_job(paths)
    assert not evals["schema_manifest"].passed  # empty data root: no manifest yet


def test_sensor_requests_changed_dates(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    paths = raw_paths(request, tmp_path)
    dates = raw_dates(paths)
    with dg.DagsterInstance.ephemeral() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=resources(paths))
        result = landing_zone_sensor(ctx)
        assert sorted(r.partition_key for r in result.run_requests) == dates
        assert all({k.to_user_string() for k in r.asset_selection} == {"game_tick", "player_action", "server_state",
                                                                      "complete_game", "games"}
                   for r in result.run_requests)
        assert {(e.asset_key.to_user_string(), e.partition) for e in result.asset_events} >= {("ws_event", d) for d in dates}

        ctx = dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources(paths))
        again = landing_zone_sensor(ctx)
        assert again.run_requests == [] and again.asset_events == []

        # late data for the older date only
        older = dates[0]
        ts, name, data = next(e for e in fixture_events()[-6:] if e[1] == "playerUpdate")
        land(paths, fixture_records("late", [(ts, name, data)]), "late")
        assert raw_dates(paths) == dates
        ctx = dg.build_sensor_context(instance=instance, cursor=again.cursor or result.cursor,
                                      resources=resources(paths))
        late = landing_zone_sensor(ctx)
        assert [r.partition_key for r in late.run_requests] == [older]


def test_a_raw_row_that_is_not_json_is_counted_not_fatal(derived: DataPaths) -> None:
    from vectra_capture.store.envelope import RawRecord

    good = fixture_records("broken", [e for e in fixture_events() if e[1] == "standard/newTrade"][:1])[0]
    broken = RawRecord("ws_event", good.ts_us, 0, "replay", good.session_id, b'["gameStateUpdate", {"gameId": "x", ',
                       event_name="gameStateUpdate")
    land(derived, [broken], "broken")
    results = materialize_all(derived)
    assert all(r.success for r in results)
    failures = Counter()
    for r in results:
        for m in r.get_asset_materialization_events():
            failures[m.asset_key.to_user_string()] += m.materialization.metadata["model_failures"].value
    # counted once, by the table its event belongs to
    assert failures["game_tick"] == 1 and failures["player_action"] == 0 and failures["server_state"] == 0
    rec = run_checks(derived, checks.RECONCILIATION)["reconciliation"]
    assert rec.passed and rec.metadata["model_failures"].value == 1


def test_sensor_plan_includes_neighbours_and_stays_in_range() -> None:
    from vectra_pipeline.defs.typed.sensors import ALL_TYPED, plan

    got = plan(["2025-12-07"], {"2025-12-06", "2025-12-07", "2025-12-08"}, today="2026-01-01")
    assert got == {"2025-12-07": set(ALL_TYPED), "2025-12-06": {"games"}, "2025-12-08": set(ALL_TYPED)}
    assert plan(["2025-10-28", "2026-02-01"], {"2025-10-28", "2026-02-01"}, today="2026-01-01") == {}


def test_sensor_reruns_the_previous_dates_games_on_each_change(tmp_path: Path) -> None:
    from vectra_capture.store.envelope import RawRecord

    paths = DataPaths(tmp_path)
    midnight = 1765065600_000000  # 2025-12-07 00:00 UTC

    def land_tick(offset_us: int, seq: int, name: str) -> None:
        raw = json.dumps(["gameStateUpdate", {"gameId": "g", "tickCount": seq, "price": 1.0, "active": True}])
        land(paths, [RawRecord("ws_event", midnight + offset_us, seq, "public_ws", name, raw.encode(),
                               event_name="gameStateUpdate")], name)

    land_tick(-1_000_000, 1, "a")  # 2025-12-06 23:59:59: a game crossing midnight
    land_tick(1_000_000, 2, "b")
    cursor, games_keys, order = None, [], []
    with dg.DagsterInstance.ephemeral() as instance:
        for step in range(3):
            ctx = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources(paths))
            result = landing_zone_sensor(ctx)
            cursor = result.cursor
            order.append([r.partition_key for r in result.run_requests])
            games_keys += [r.run_key for r in result.run_requests if r.partition_key == "2025-12-06"]
            land_tick(2_000_000 + step, 3 + step, f"c{step}")  # more of 2025-12-07 lands
    assert len(games_keys) == 3 and len(set(games_keys)) == 3  # each change of D re-runs D-1's games
    assert order[1] == order[2] == ["2025-12-07", "2025-12-06"]  # the changed date's typed run first
