"""The landing zone in Dagster: runless events per changed raw partition (and the staleness they
drive downstream), the raw_freshness check against a real capture daemon, DuckDB through the
resource, the instance settings and the executor of the code location."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from conftest import RAW_SAMPLES, ROOT, free_port, wait_for, wait_port
from dagster._core.definitions.assets.definition.assets_definition import AssetsDefinition
from dagster._utils.test.data_versions import get_stale_status_resolver
from dagster_duckdb import DuckDBResource
from pipeline_helpers import land, pipeline_resources

from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.locks import FileLock, is_locked
from vectra_pipeline import duck
from vectra_pipeline.defs.landing.assets import system_event, ws_event
from vectra_pipeline.defs.landing.checks import raw_freshness_check
from vectra_pipeline.defs.landing.raw_partitions import DATA_VERSION_TAG
from vectra_pipeline.defs.landing.resources import DataRootResource, VectraDuckDBResource
from vectra_pipeline.defs.typed.assets import games, typed_from_raw
from vectra_pipeline.defs.typed.sensors import landing_zone_sensor

DAY1, DAY2 = datetime(2025, 12, 6, 22, 0, tzinfo=UTC), datetime(2025, 12, 7, 1, 0, tzinfo=UTC)
ASSETS = [typed_from_raw, games, ws_event, system_event, dg.AssetSpec("legacy_recordings")]


def tick_records(session: str, start: datetime, n: int, first_seq: int = 0) -> list[RawRecord]:
    out = []
    for i in range(n):
        raw = json.dumps(["gameStateUpdate", {"gameId": f"g-{session}", "tickCount": i, "price": 1.0 + i / 100,
                                              "active": True}])
        ts = int((start + timedelta(seconds=i)).timestamp() * 1_000_000)
        out.append(RawRecord("ws_event", ts, first_seq + i, "public_ws", session, raw.encode(),
                             event_name="gameStateUpdate", game_id=f"g-{session}"))
    return out


def tick(instance: dg.DagsterInstance, paths: DataPaths, cursor: str | None, **data_root: object
         ) -> dg.SensorResult:
    """One sensor evaluation whose asset events are stored the way the sensor daemon stores them."""
    result = landing_zone_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                         resources=pipeline_resources(paths, **data_root)))
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return result


def partition_events(result: dg.SensorResult) -> list[tuple[str, str, str]]:
    return sorted((type(e).__name__, e.asset_key.to_user_string(), e.partition) for e in result.asset_events
                  if not isinstance(e, dg.AssetCheckEvaluation))


def stale_status(instance: dg.DagsterInstance, asset: str, date: str) -> str:
    defs = [a if isinstance(a, AssetsDefinition) else AssetsDefinition(specs=[a]) for a in ASSETS]
    return get_stale_status_resolver(instance, defs).get_status(dg.AssetKey(asset), date).value


def test_sensor_reports_exactly_the_changed_partitions_and_typed_goes_stale(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    land(paths, tick_records("s1", DAY1, 3), "s1")
    land(paths, tick_records("s2", DAY2, 4), "s2")
    system = RawRecord("system_event", int(DAY2.timestamp() * 1e6), 9, "public_ws", "s2", b'{"url": "x"}',
                       event_name="session_start")
    land(paths, [system], "s2sys")
    with dg.DagsterInstance.ephemeral() as instance:
        first = tick(instance, paths, None)
        both = {("AssetMaterialization", a, d) for a, d in [("ws_event", "2025-12-06"), ("ws_event", "2025-12-07"),
                                                            ("system_event", "2025-12-07")]}
        assert partition_events(first) == sorted(both | {("AssetObservation", a, d) for _, a, d in both})
        mats = {(e.asset_key.to_user_string(), e.partition): e for e in first.asset_events
                if isinstance(e, dg.AssetMaterialization)}
        day2 = mats[("ws_event", "2025-12-07")]
        assert day2.metadata["files"].value == 1 and day2.metadata["dagster/row_count"].value == 4
        assert day2.metadata["bytes"].value == sum(f.stat().st_size for f in
                                                   paths.partition_dir("ws_event", "2025-12-07").glob("*.parquet"))
        assert day2.metadata["last_ts"].value.startswith("2025-12-07T01:00:03")
        assert day2.tags[DATA_VERSION_TAG] == day2.metadata["digest"].value
        assert mats[("system_event", "2025-12-07")].metadata["dagster/row_count"].value == 1

        # the typed partitions derived from what was reported are up to date
        for date in ("2025-12-06", "2025-12-07"):
            assert dg.materialize(ASSETS, selection=dg.AssetSelection.assets(typed_from_raw, games),
                                  partition_key=date, resources=pipeline_resources(paths), instance=instance).success
        assert stale_status(instance, "game_tick", "2025-12-06") == "FRESH"
        assert stale_status(instance, "game_tick", "2025-12-07") == "FRESH"

        second = tick(instance, paths, first.cursor)  # nothing changed: no event, no run
        assert partition_events(second) == [] and second.run_requests == []

        land(paths, tick_records("s3", DAY2 + timedelta(minutes=5), 2, first_seq=100), "s3")  # more of day 2
        third = tick(instance, paths, second.cursor)
        assert partition_events(third) == [("AssetMaterialization", "ws_event", "2025-12-07"),
                                           ("AssetObservation", "ws_event", "2025-12-07")]
        (mat,) = [e for e in third.asset_events if isinstance(e, dg.AssetMaterialization)]
        assert mat.metadata["files"].value == 2 and mat.metadata["dagster/row_count"].value == 6
        assert {r.partition_key for r in third.run_requests} == {"2025-12-07", "2025-12-06"}  # D and D-1's games
        # raw day 2 changed: its typed partition is stale, day 1's is not
        assert stale_status(instance, "game_tick", "2025-12-07") == "STALE"
        assert stale_status(instance, "game_tick", "2025-12-06") == "FRESH"
        assert partition_events(tick(instance, paths, third.cursor)) == []


def test_sensor_upgrading_an_old_cursor_reports_without_rederiving(tmp_path: Path) -> None:
    """A cursor written before the listing digest ([digest, files, bytes] per date) reports every
    partition once (the UI has not seen them) but requests runs only for dates whose files changed."""
    paths = DataPaths(tmp_path / "data")
    land(paths, tick_records("s1", DAY1, 3), "s1")
    land(paths, tick_records("s2", DAY2, 4), "s2")
    old = {"ws_event": {}}
    for date in ("2025-12-06", "2025-12-07"):
        files = list(paths.partition_dir("ws_event", date).glob("*.parquet"))
        old["ws_event"][date] = ["0123456789abcdef", len(files), sum(f.stat().st_size for f in files)]
    old["ws_event"]["2025-12-07"][2] += 1  # this date's bytes differ: it changed since
    with dg.DagsterInstance.ephemeral() as instance:
        result = tick(instance, paths, json.dumps(old))
    assert {e.partition for e in result.asset_events if isinstance(e, dg.AssetMaterialization)} == {
        "2025-12-06", "2025-12-07"}
    assert {r.partition_key for r in result.run_requests} == {"2025-12-07", "2025-12-06"}
    assert all(set(r.asset_selection) == {dg.AssetKey("games")} for r in result.run_requests
               if r.partition_key == "2025-12-06")  # only as the changed date's neighbour


# -- raw_freshness ---------------------------------------------------------------------------------
def vectra(args: list[str], workdir: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vectra_pipeline.cli", *args], cwd=ROOT,
                            stdout=open(workdir / f"{name}.out", "w"), stderr=open(workdir / f"{name}.err", "w"))  # noqa: SIM115


def freshness(paths: DataPaths, minutes: float) -> dg.AssetCheckResult:
    return raw_freshness_check(data_root=DataRootResource(data_dir=str(paths.root), raw_stale_after_minutes=minutes))


def test_raw_freshness_follows_a_real_capture_daemon(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    limit = 0.1  # minutes: 6 s
    idle = freshness(paths, limit)
    assert idle.passed and "no capture daemon expected" in idle.description

    port = free_port()
    feed = vectra(["feed", "serve", "--port", str(port), "--loop", "--max-gap", "0.2", str(RAW_SAMPLES)],
                  tmp_path, "feed")
    daemon = None
    try:
        wait_port(port)
        daemon = vectra(["capture", "--url", f"http://127.0.0.1:{port}", "--roll-seconds", "0.5",
                         "--data-dir", str(paths.root)], tmp_path, "daemon")
        assert wait_for(lambda: freshness(paths, limit).passed and is_locked(paths.capture_lock)
                        and any(paths.doc_type_dir("ws_event").glob("date=*/*.parquet")), 60), (
            (tmp_path / "daemon.err").read_text())
        with dg.DagsterInstance.ephemeral() as instance:
            fresh = tick(instance, paths, None, raw_stale_after_minutes=limit)
            (evaluation,) = [e for e in fresh.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
            assert evaluation.passed and evaluation.check_name == "raw_freshness"
            assert not [e for e in tick(instance, paths, fresh.cursor, raw_stale_after_minutes=limit).asset_events
                        if isinstance(e, dg.AssetCheckEvaluation)]  # same verdict: not reported again

            feed.send_signal(signal.SIGTERM)  # the feed dies; the daemon keeps running, nothing lands
            feed.wait(30)
            assert wait_for(lambda: not freshness(paths, limit).passed, 60)
            stale = freshness(paths, limit)
            assert "running but has landed no raw Parquet" in stale.description
            assert stale.metadata["daemon_running"].value is True
            later = tick(instance, paths, fresh.cursor, raw_stale_after_minutes=limit)
            (evaluation,) = [e for e in later.asset_events if isinstance(e, dg.AssetCheckEvaluation)]
            assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR

        daemon.send_signal(signal.SIGKILL)  # a dead capture: lock gone, status file left behind
        daemon.wait(30)
        dead = freshness(paths, limit)
        assert not dead.passed and "did not stop cleanly" in dead.description
        assert freshness(paths, 24 * 60).passed  # within a generous limit it is still fresh
    finally:
        for p in (feed, daemon):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def test_raw_freshness_counts_from_the_daemons_files_not_legacy_ones(tmp_path: Path) -> None:
    """A fresh file of another writer (a legacy import) does not make a silent daemon fresh; a stale
    file of its own session fails, a fresh one passes."""
    paths = DataPaths(tmp_path / "data")
    started = datetime.now(UTC) - timedelta(hours=3)
    paths.run.mkdir(parents=True)
    status = {"session_id": "daemon-1", "state": "connected", "started_at": started.isoformat(),
              "updated_at": datetime.now(UTC).isoformat()}
    paths.capture_status.write_text(json.dumps(status))
    land(paths, tick_records("daemon-1", datetime.now(UTC) - timedelta(hours=2), 2), "daemon-1")
    old = time.time() - 2 * 3600
    for f in paths.doc_type_dir("ws_event").glob("date=*/daemon-1_*.parquet"):
        os.utime(f, (old, old))
    land(paths, tick_records("legacy", datetime.now(UTC), 2), "legacy-0123456789abcdef")
    with FileLock(paths.capture_lock):
        result = freshness(paths, 30)
        assert not result.passed and result.metadata["age_minutes"].value == pytest.approx(120, abs=1)
        land(paths, tick_records("daemon-1", datetime.now(UTC), 2, first_seq=10), "daemon-1")
        assert freshness(paths, 30).passed


# -- DuckDB, instance, executor --------------------------------------------------------------------
def test_duckdb_resource_has_the_settings_of_duck_py() -> None:
    """Under a machine time zone far from UTC, the resource's connections and duck.connect() agree."""
    code = (
        "import json; from vectra_pipeline import duck; "
        "from vectra_pipeline.defs.landing.resources import VectraDuckDBResource\n"
        "q = \"SELECT current_setting('TimeZone'), current_setting('temp_directory'), "
        "current_setting('preserve_insertion_order'), strftime(TIMESTAMPTZ '2025-12-06 23:30:00+00', '%Y-%m-%d')\"\n"
        "with VectraDuckDBResource().get_connection() as con: r = con.execute(q).fetchall()[0]\n"
        "print(json.dumps([list(r), list(duck.connect().execute(q).fetchall()[0])]))"
    )
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    resource_row, connect_row = json.loads(out.stdout)
    assert resource_row == connect_row == ["UTC", str(duck.SPILL_DIR), False, "2025-12-06"]
    resource = VectraDuckDBResource()
    assert isinstance(resource, DuckDBResource) and resource.database == ":memory:"
    assert resource.connection_config == duck.connection_config()


def test_instance_settings_turn_off_the_newsletter_dialog(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.nux_enabled is False
        assert instance.get_settings("telemetry") == {"enabled": False}


def test_runs_execute_in_one_process() -> None:
    from vectra_pipeline.definitions import defs

    d = defs()
    assert d.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"
    for job in ("schema_checks_job", "vectors_incremental"):
        assert d.resolve_job_def(job).executor_def.name == "in_process"
    assert {"data_root", "duckdb"} <= set(d.resources)
