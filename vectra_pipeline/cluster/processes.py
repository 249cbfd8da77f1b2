"""The processes of the local cluster and the environment they share, on 127.0.0.1 only.

    PostgreSQL            Dagster's runs, event logs, schedules (deploy/dagster.yaml)
    Dask scheduler        takes each step of a run as a task
    Dask workers (2)      run the steps (one process, one thread each)
    moto S3 server        an S3-compatible endpoint for an s3:// data root
    dagster-daemon        schedules, sensors, the run queue, backfills
    dagster-webserver     the UI

`vectra cluster up` starts them supervised; the tests start the ones they need from the same commands."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from vectra_capture.store.atomic import atomic_write_bytes
from vectra_pipeline.cluster.executor import ADDRESS_ENV
from vectra_pipeline.cluster.postgres import LocalPostgres
from vectra_pipeline.definitions import EXECUTOR_ENV

HOST = "127.0.0.1"
S3_BUCKET = "vectra"
# moto accepts any credentials; these only make the AWS clients sign their requests
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "vectra-local", "AWS_SECRET_ACCESS_KEY": "vectra-local",
                    "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass
class ClusterSettings:
    state_dir: Path  # PostgreSQL's data, Dask's scratch space, Dagster's artifacts, the local data root
    deploy_dir: Path  # deploy/dagster.yaml (copied into DAGSTER_HOME) and deploy/workspace.yaml
    data_dir: str | None = None  # RUGS_DATA_DIR: a folder or s3://bucket/prefix (default: <state_dir>/data)
    postgres_port: int = 5433
    scheduler_port: int = 8786
    dashboard_port: int = 8787
    s3_port: int = 9000
    ui_port: int = 3000
    workers: int = 2

    @property
    def data_root(self) -> str:
        return self.data_dir or str(self.state_dir / "data")

    @property
    def scheduler_address(self) -> str:
        return f"tcp://{HOST}:{self.scheduler_port}"

    @property
    def s3_endpoint(self) -> str:
        return f"http://{HOST}:{self.s3_port}"

    def postgres(self) -> LocalPostgres:
        return LocalPostgres(self.state_dir / "postgres", self.postgres_port)

    @property
    def dagster_home(self) -> Path:
        """DAGSTER_HOME in the state folder: Dagster writes logs and queues there, which must not land
        in the repository's deploy/ (it holds only the configuration)."""
        return self.state_dir / "dagster_home"

    def env(self, postgres: LocalPostgres) -> dict[str, str]:
        """What every Dagster and Dask process of the cluster reads (DAGSTER_HOME laid out first)."""
        atomic_write_bytes(self.dagster_home / "dagster.yaml", (self.deploy_dir / "dagster.yaml").read_bytes())
        env = {**os.environ, **postgres.env(),
               "DAGSTER_HOME": str(self.dagster_home), "VECTRA_DAGSTER_ARTIFACTS": str(self.state_dir / "dagster"),
               "VECTRA_DAGSTER_COMPUTE_LOGS": str(self.state_dir / "dagster" / "compute_logs"),
               EXECUTOR_ENV: "dask", ADDRESS_ENV: self.scheduler_address, "RUGS_DATA_DIR": self.data_root,
               # how often a run's executor reads its steps' events back (Dagster's default: 1 s per loop,
               # which a date's sub-second steps would mostly spend waiting)
               "DAGSTER_STEP_DELEGATING_EXECUTOR_SLEEP_SECONDS": "0.2"}
        if self.data_root.startswith("s3://") and "AWS_ENDPOINT_URL" not in os.environ:
            # no S3 of its own configured: the data root lives in the local moto server
            env.update({"AWS_ENDPOINT_URL": self.s3_endpoint, **MOTO_CREDENTIALS})
        return env

    # -- commands -----------------------------------------------------------------------------
    def scheduler_command(self) -> list[str]:
        return [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", HOST,
                "--port", str(self.scheduler_port), "--dashboard-address", f"{HOST}:{self.dashboard_port}"]

    def worker_command(self, n: int) -> list[str]:
        # one process, one thread: Dagster steps are not meant to share a process's threads
        return [sys.executable, "-m", "distributed.cli.dask_worker", self.scheduler_address, "--host", HOST,
                "--nworkers", "1", "--nthreads", "1", "--name", f"worker-{n}", "--no-dashboard",
                "--local-directory", str(self.state_dir / "dask")]

    def moto_command(self) -> list[str]:
        # moto's server logs every request (werkzeug, thousands a minute): warnings only
        quiet = ("import logging, sys; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
                 "from moto.server import main; sys.exit(main(sys.argv[1:]))")
        return [sys.executable, "-c", quiet, "-H", HOST, "-p", str(self.s3_port)]

    def daemon_command(self) -> list[str]:
        return [sys.executable, "-m", "dagster._daemon", "run", "-w", str(self.deploy_dir / "workspace.yaml")]

    def webserver_command(self) -> list[str]:
        return [sys.executable, "-m", "dagster_webserver", "-w", str(self.deploy_dir / "workspace.yaml"),
                "-h", HOST, "-p", str(self.ui_port)]
