"""`vectra cluster up`: Vectra on a local cluster (`make run-cluster`): PostgreSQL, a Dask scheduler and
two workers, a moto S3 server, the Dagster daemon and UI, all on 127.0.0.1; Ctrl-C stops all.
The processes and their settings: vectra_pipeline/cluster/processes.py; production: docs/deploy.md."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click

from vectra_capture.store.atomic import ensure_dir
from vectra_pipeline.cli.common import stop_on_signals
from vectra_pipeline.cli.supervisor import Supervisor
from vectra_pipeline.cluster.postgres import PostgresMissing
from vectra_pipeline.cluster.processes import S3_BUCKET, ClusterSettings


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise click.ClickException(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _seed(data_root: str, seeds: tuple[Path, ...], env: dict[str, str]) -> None:
    """A one-shot `vectra legacy import` with the cluster's environment (its S3 endpoint and keys)."""
    click.echo(f"[cluster] importing {', '.join(map(str, seeds))} into {data_root} ...", err=True)
    done = subprocess.run([sys.executable, "-m", "vectra_pipeline.cli", "legacy", "import", "--data-dir", data_root,
                           *map(str, seeds)], env=env, stdout=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"the seed import into {data_root} failed (exit {done.returncode})")


@click.group()
def cluster() -> None:
    """Vectra on more than one process (PostgreSQL instance, Dask workers)."""


@cluster.command()
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path(".cluster"),
              show_default=True, help="PostgreSQL data, Dask scratch, Dagster artifacts, the default data root.")
@click.option("--deploy-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("deploy"),
              show_default=True, help="DAGSTER_HOME: the folder of dagster.yaml and workspace.yaml.")
@click.option("--data-dir", envvar="RUGS_DATA_DIR", default=None,
              help="The data root: a folder or s3://bucket/prefix (default: <state-dir>/data; "
                   f"s3://{S3_BUCKET}/... uses the local moto server unless AWS_ENDPOINT_URL is set).")
@click.option("--workers", default=2, type=click.IntRange(1, 64), show_default=True)
@click.option("--postgres-port", default=5433, type=int, show_default=True)
@click.option("--scheduler-port", default=8786, type=int, show_default=True)
@click.option("--dashboard-port", default=8787, type=int, show_default=True, help="Dask dashboard.")
@click.option("--s3-port", default=9000, type=int, show_default=True)
@click.option("--ui-port", default=3000, type=int, show_default=True)
@click.option("--seed", "seeds", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Legacy recordings imported into the data root once the cluster is up (repeatable), so "
                   "an empty root (moto keeps nothing between starts) has raw days to derive.")
def up(state_dir: Path, deploy_dir: Path, data_dir: str | None, workers: int, postgres_port: int,
       scheduler_port: int, dashboard_port: int, s3_port: int, ui_port: int, seeds: tuple[Path, ...]) -> None:
    """Start the cluster; Ctrl-C stops all. A child that exits non-zero is restarted with backoff."""
    settings = ClusterSettings(state_dir.resolve(), deploy_dir.resolve(), data_dir, postgres_port=postgres_port,
                               scheduler_port=scheduler_port, dashboard_port=dashboard_port, s3_port=s3_port,
                               ui_port=ui_port, workers=workers)
    postgres = settings.postgres()
    try:
        postgres.init()
    except PostgresMissing as exc:
        raise click.ClickException(str(exc)) from exc
    if not settings.data_root.startswith("s3://"):
        ensure_dir(Path(settings.data_root))
    stop = stop_on_signals()
    supervisor = Supervisor(dict(os.environ))
    reason = None
    try:
        supervisor.add("postgres", postgres.server_command())
        postgres.wait_ready()
        env = supervisor.env = settings.env(postgres)
        supervisor.add("s3", settings.moto_command())
        supervisor.add("dask-scheduler", settings.scheduler_command())
        _wait_port(settings.scheduler_port)
        for n in range(workers):
            supervisor.add(f"dask-worker-{n}", settings.worker_command(n))
        if settings.data_root.startswith(f"s3://{S3_BUCKET}/") and env.get("AWS_ENDPOINT_URL") == settings.s3_endpoint:
            _wait_port(settings.s3_port)
            # moto keeps buckets in memory (made at each start) and takes an unsigned PUT
            urllib.request.urlopen(urllib.request.Request(f"{settings.s3_endpoint}/{S3_BUCKET}", method="PUT"),
                                   timeout=10).close()
        if seeds:
            _seed(settings.data_root, seeds, env)
        supervisor.add("dagster-daemon", settings.daemon_command())
        supervisor.add("dagster-webserver", settings.webserver_command())
        click.echo(
            f"[cluster] Dagster UI http://127.0.0.1:{ui_port} (ready in ~20 s); PostgreSQL 127.0.0.1:{postgres_port}; "
            f"Dask scheduler {settings.scheduler_address} (dashboard http://127.0.0.1:{settings.dashboard_port}), "
            f"{workers} workers; S3 (moto) {settings.s3_endpoint}; data root {settings.data_root}. "
            "Ctrl-C stops everything.", err=True)
        reason = supervisor.run(stop.requested)
    finally:
        click.echo("[cluster] stopping...", err=True)
        supervisor.stop_all()
    if reason is not None:
        sys.exit(1)
