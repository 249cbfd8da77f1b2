"""`vectra cluster up` (what `make run-cluster` runs) starts PostgreSQL, the Dask scheduler and two
workers, a moto S3 server with the data root's bucket, the Dagster daemon and UI on 127.0.0.1; a run
submitted to the UI is queued, launched by the daemon and its steps run on the Dask workers; Ctrl-C
stops all of them. Real processes; skipped only without PostgreSQL's binaries."""

from __future__ import annotations

import shutil
import signal
import socket
import tempfile
import urllib.request
from pathlib import Path

import dask.distributed
import psycopg2
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient
from pipeline_helpers import fixture_records, land

from tests.cluster_helpers import backfill_config, postgres_or_skip
from tests.conftest import free_port, wait_for
from vectra_capture.store.layout import DataPaths


def is_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def ui_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_cluster_up_starts_every_piece_and_ctrl_c_stops_them(procs) -> None:
    postgres_or_skip()
    state = Path(tempfile.mkdtemp(prefix="vectra_cluster_up_"))
    state.chmod(0o711)  # as root, PostgreSQL runs as `postgres` and must enter it
    ports = {name: free_port() for name in ("postgres", "scheduler", "dashboard", "s3", "ui")}
    try:
        up = procs(["cluster", "up", "--state-dir", str(state), "--data-dir", "s3://vectra/data",
                    "--postgres-port", str(ports["postgres"]), "--scheduler-port", str(ports["scheduler"]),
                    "--dashboard-port", str(ports["dashboard"]), "--s3-port", str(ports["s3"]),
                    "--ui-port", str(ports["ui"])], "cluster")
        assert wait_for(lambda: ui_ready(ports["ui"]) or up.popen.poll() is not None, 300), up.stderr()[-3000:]
        assert up.popen.poll() is None, up.stderr()[-3000:]

        password = (state / "postgres" / "pg_password").read_text().strip()
        assert (state / "postgres" / "pg_password").stat().st_mode & 0o077 == 0
        con = psycopg2.connect(host="127.0.0.1", port=ports["postgres"], user="vectra", password=password,
                               dbname="dagster")
        with con.cursor() as cur:  # Dagster created its schema there
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN ('runs', 'event_logs')")
            assert cur.fetchone() == (2,)
        con.close()
        with dask.distributed.Client(f"tcp://127.0.0.1:{ports['scheduler']}", set_as_default=False) as client:
            client.wait_for_workers(2, timeout=120)
            assert len(client.scheduler_info()["workers"]) == 2
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['s3']}/", timeout=10) as resp:
            assert b"<Name>vectra</Name>" in resp.read()  # the data root's bucket

        # the production path: UI (GraphQL) -> run queue -> daemon -> run process -> steps on Dask
        data = DataPaths(state / "local_data")
        land(data, fixture_records("samples"), "samples")
        ui = DagsterGraphQLClient("127.0.0.1", port_number=ports["ui"])
        run_id = ui.submit_job_execution("typed_backfill",
                                         run_config=backfill_config(data.root, "2025-12-07", "2025-12-07"))
        done = (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
        assert wait_for(lambda: ui.get_run_status(run_id) in done, 300, interval=1)
        assert ui.get_run_status(run_id) == DagsterRunStatus.SUCCESS
        assert (data.partition_dir("games", "2025-12-07") / "games.parquet").exists()

        up.signal(signal.SIGINT)
        assert up.wait(90) == 0, up.stderr()[-3000:]
        assert "[cluster] stopping..." in up.stderr()
        assert not any(is_open(p) for p in ports.values()), ports
    finally:
        shutil.rmtree(state, ignore_errors=True)
