"""The cluster for real: a typed backfill of several fixture dates on the PostgreSQL instance with the
Dask executor and two Dask worker processes, compared with the embedded in-process run; and a worker
killed (SIGKILL) mid-step. Skipped only when PostgreSQL's binaries are absent (`make test` installs them)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pyarrow.parquet as pq
from pipeline_helpers import fixture_records, land

from tests.cluster_helpers import BackgroundRun, LocalCluster, backfill_config, local_cluster, run_in_process
from tests.conftest import LEGACY_DIR, wait_for
from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.run import TABLES

__all__ = ["local_cluster"]  # the module-scoped fixture

FIRST, LAST = "2025-10-29", "2025-11-02"  # the legacy recordings' dates (one without data in between)


def fixture_root(root: Path, copies: int = 1) -> DataPaths:
    """The legacy recordings imported, plus the live samples landed `copies` times (as that many capture
    sessions: the same events seen again are duplicates, so the typed rows do not change)."""
    paths = DataPaths(root)
    import_legacy([LEGACY_DIR], paths, legacy_root=LEGACY_DIR)
    for n in range(copies):
        land(paths, fixture_records(f"samples-{n}"), f"samples-{n}")
    return paths


def typed_files(paths: DataPaths) -> dict[str, Path]:
    return {str(f.relative_to(paths.root)): f for t in TABLES for f in paths.doc_type_dir(t).glob("date=*/*.parquet")}


def rows(path: Path) -> list[str]:
    return sorted(map(repr, pq.read_table(path).to_pylist()))


def assert_same_outputs(cluster_paths: DataPaths, local_paths: DataPaths, exact: bool = True) -> None:
    """Byte for byte, except game_tick: its row order differs between two in-process runs too (DuckDB's
    parallel dedup), so there the rows are compared as a multiset; exact=False compares every table's
    rows so (with many duplicate copies, the other tables' row order varies as well)."""
    ours, theirs = typed_files(cluster_paths), typed_files(local_paths)
    assert ours and ours.keys() == theirs.keys()
    assert {Path(k).parts[1].removeprefix("doc_type=") for k in ours} == set(TABLES)
    for name, f in ours.items():
        if not exact or "doc_type=game_tick" in name:
            assert rows(f) == rows(theirs[name]), f"{name}: other rows than the in-process run's"
        else:
            assert f.read_bytes() == theirs[name].read_bytes(), f"{name} differs from the in-process run"


def step_events(cluster: LocalCluster, run_id: str) -> list:
    with cluster.instance() as instance:
        return [r.dagster_event for r in instance.all_logs(run_id) if r.dagster_event and r.dagster_event.step_key]


def test_backfill_spreads_steps_over_two_workers_and_matches_the_local_run(
        local_cluster: LocalCluster, tmp_path: Path) -> None:
    cluster_paths = fixture_root(tmp_path / "cluster")
    local_paths = fixture_root(tmp_path / "local")
    run = BackgroundRun(local_cluster, backfill_config(cluster_paths.root, FIRST, LAST))
    run.start()
    run.join(600)
    assert run.error is None, run.error
    assert run.success

    events = step_events(local_cluster, run.run_id)
    started = {e.step_key: e.pid for e in events if e.event_type_value == "STEP_START"}
    per_date = {k for k in started if k.startswith(("derive_raw_tables[", "derive_games["))}
    assert len(per_date) == 10  # 5 dates x (raw tables, games): one step per date
    assert all(e.event_type_value != "STEP_FAILURE" for e in events)
    pids = {started[k] for k in per_date}
    workers = local_cluster.worker_pids()
    assert len(pids) >= 2, f"every step ran in one process: {pids}"
    assert pids <= workers and os.getpid() not in pids  # in the Dask workers, not in the orchestrating process

    # the run and its events are in the cluster's PostgreSQL
    con = local_cluster.postgres.connect("dagster")
    with con.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (run.run_id,))
        assert cur.fetchone() == ("SUCCESS",)
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
                    (run.run_id,))
        assert cur.fetchone()[0] == 5 * 5  # every table's partition of every date reported
    con.close()

    local = run_in_process(local_paths.root, FIRST, LAST)
    assert local.success
    assert_same_outputs(cluster_paths, local_paths)


def test_a_worker_killed_mid_step_is_retried_and_the_partition_completes(
        local_cluster: LocalCluster, tmp_path: Path) -> None:
    # the live samples landed 40 times: one date whose derivation lasts long enough to be killed in
    date = "2025-12-07"
    cluster_paths = fixture_root(tmp_path / "cluster", copies=40)
    shutil.copytree(cluster_paths.root, tmp_path / "local")
    local_paths = DataPaths(tmp_path / "local")
    step = f"derive_raw_tables[{date.replace('-', '_')}]"

    with local_cluster.instance() as instance:
        before = {r.run_id for r in instance.get_runs()}
    run = BackgroundRun(local_cluster, backfill_config(cluster_paths.root, date, date))
    run.start()
    killed: dict[str, int] = {}

    def kill_at_step_start() -> bool:
        with local_cluster.instance() as instance:
            runs = [r for r in instance.get_runs() if r.run_id not in before]
            if not runs:
                return False
            for record in instance.all_logs(runs[0].run_id):
                event = record.dagster_event
                if event and event.step_key == step and event.event_type_value == "STEP_START":
                    os.kill(event.pid, signal.SIGKILL)
                    killed["pid"] = event.pid
                    return True
        return False

    assert wait_for(kill_at_step_start, timeout=300, interval=0.05), "the step never started"
    run.join(600)
    assert run.error is None, run.error
    assert run.success

    events = [e for e in step_events(local_cluster, run.run_id) if e.step_key == step]
    kinds = [(e.event_type_value, e.pid) for e in events]
    assert ("STEP_START", killed["pid"]) in kinds
    assert ("STEP_SUCCESS", killed["pid"]) not in kinds, "the kill came after the step had finished"
    (success,) = [pid for kind, pid in kinds if kind == "STEP_SUCCESS"]
    assert success != killed["pid"]
    assert [kind for kind, _ in kinds].count("STEP_START") == 2  # started, killed, started again

    # the partition ends complete: the same files as an undisturbed in-process run
    assert run_in_process(local_paths.root, date, date).success
    assert_same_outputs(cluster_paths, local_paths, exact=False)
    assert wait_for(lambda: len(local_cluster.worker_pids()) == 2, timeout=120)  # the nanny restarted it

