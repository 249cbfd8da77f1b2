"""A real local cluster for tests: PostgreSQL (initdb into tmp), a Dask scheduler and two workers,
started from the same commands as `vectra cluster up` (vectra_pipeline/cluster/processes.py), and
Dagster runs on the cluster's PostgreSQL instance with the Dask executor."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import dask.distributed
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository

from tests.conftest import ROOT, free_port, wait_port
from vectra_pipeline.cluster.executor import close_clients
from vectra_pipeline.cluster.postgres import LocalPostgres, PostgresMissing, find_bin_dir
from vectra_pipeline.cluster.processes import ClusterSettings


@dataclass
class LocalCluster:
    settings: ClusterSettings
    postgres: LocalPostgres
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.settings.dagster_home))

    def worker_pids(self) -> set[int]:
        with dask.distributed.Client(self.settings.scheduler_address, set_as_default=False) as client:
            return set(client.run(os.getpid).values())

    def wait_workers(self, n: int, timeout: float = 120.0) -> None:
        with dask.distributed.Client(self.settings.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(n, timeout=timeout)


def postgres_or_skip() -> None:
    try:
        find_bin_dir()
    except PostgresMissing as exc:
        pytest.skip(f"PostgreSQL is not installed ({exc}); `make test` installs it as root")


def typed_backfill_job() -> dg.ReconstructableJob:
    """The job as the cluster's code location builds it (VECTRA_EXECUTOR=dask in this process's env)."""
    repo = ReconstructableRepository.for_module("vectra_pipeline.definitions", "defs", working_directory=str(ROOT))
    return repo.get_reconstructable_job("typed_backfill")


def backfill_config(data_dir: Path, start: str, end: str) -> dict:
    return {"ops": {"backfill_dates": {"config": {"start": start, "end": end}}},
            "resources": {"data_root": {"config": {"data_dir": str(data_dir)}}}}


def run_in_process(data_dir: Path, start: str, end: str) -> dg.ExecuteInProcessResult:
    """The embedded default: the same job, in-process executor, ephemeral instance."""
    from vectra_pipeline.definitions import code_location  # noqa: PLC0415 - test helper

    job = code_location(dg.in_process_executor).get_job_def("typed_backfill")
    return job.execute_in_process(run_config=backfill_config(data_dir, start, end))


class BackgroundRun(threading.Thread):
    """execute_job in a thread (this process orchestrates, the Dask workers run the steps)."""

    def __init__(self, cluster: LocalCluster, run_config: dict) -> None:
        super().__init__(daemon=True)
        self.cluster, self.run_config = cluster, run_config
        self.run_id: str | None = None
        self.success: bool | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.cluster.instance() as instance:
                result = dg.execute_job(typed_backfill_job(), instance, run_config=self.run_config)
                self.run_id, self.success = result.run_id, result.success
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc


@contextmanager
def start_local_cluster(workers: int = 2) -> Iterator[LocalCluster]:
    """PostgreSQL, a Dask scheduler and `workers` workers on free ports; this process's environment is the
    cluster's while it runs (it orchestrates the runs: the cluster's instance and executor)."""
    # not under pytest's basetemp: as root the server runs as `postgres`, which cannot enter a 0700 parent
    state = Path(tempfile.mkdtemp(prefix="vectra_cluster_"))
    state.chmod(0o711)
    settings = ClusterSettings(state, ROOT / "deploy", postgres_port=free_port(), scheduler_port=free_port(),
                               dashboard_port=free_port())
    postgres = settings.postgres()
    postgres.init()
    cluster = LocalCluster(settings, postgres, {})
    logs = state / "logs"
    logs.mkdir()

    def start(name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        cluster.procs.append(subprocess.Popen(args, env=env, cwd="/" if name == "postgres" else ROOT,
                                              stdout=open(logs / f"{name}.out", "w"),  # noqa: SIM115
                                              stderr=subprocess.STDOUT, start_new_session=True))

    saved = dict(os.environ)
    try:
        start("postgres", postgres.server_command())
        postgres.wait_ready()
        cluster.env = settings.env(postgres)
        start("scheduler", settings.scheduler_command(), cluster.env)
        wait_port(settings.scheduler_port, 60)
        for n in range(workers):
            start(f"worker-{n}", settings.worker_command(n), cluster.env)
        cluster.wait_workers(workers)
        os.environ.update(cluster.env)
        yield cluster
    finally:
        close_clients()  # the executor's cached clients would keep calling a scheduler that is gone
        os.environ.clear()
        os.environ.update(saved)
        for proc in reversed(cluster.procs):  # each started its own session: the whole tree stops
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in cluster.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    postgres_or_skip()
    with start_local_cluster() as cluster:
        yield cluster
