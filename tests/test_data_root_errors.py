"""Clear errors instead of tracebacks: a data root that is a file, read-only or on a full disk, a
capture URL that cannot work, and a connection that is refused all say what is wrong in one line.
Read-only and full roots are real tmpfs mounts (root only; skipped with the reason otherwise)."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import time
from pathlib import Path

import click
import pytest
from capture_helpers import rows
from click.testing import CliRunner
from conftest import LEGACY_DIR, VECTRA, free_port
from fs_helpers import Filler, remount, tmpfs

from vectra_capture.daemon import CaptureConfig, CaptureDaemon
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main
from vectra_pipeline.cli.common import VectraGroup

LEGACY_FILE = str(sorted(LEGACY_DIR.glob("*.jsonl"))[0])
WRITERS = [
    ["legacy", "import", LEGACY_FILE],
    ["notes", "add", "--no-index", "a note"],
    ["schema", "migrate"],
    ["protocol", "verify", "gameStateUpdate", "--status", "verified"],
]
READERS = [["status"], ["data", "status"], ["schema", "show"]]


def _one_line_exit_2(result, *needles: str) -> None:  # noqa: ANN001
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args", WRITERS + READERS + [["data", "prune", "--before", "2025-01-01", "--yes"]],
                         ids=lambda a: " ".join(a[:2]))
def test_a_data_root_that_is_a_file(tmp_path: Path, args: list[str]) -> None:
    not_a_folder = tmp_path / "rugs_data"
    not_a_folder.write_text("oops")
    result = CliRunner().invoke(main, args, env={"RUGS_DATA_DIR": str(not_a_folder)})
    _one_line_exit_2(result, str(not_a_folder), "is a file, not a folder", "RUGS_DATA_DIR")


def test_the_daemon_on_a_file_root_exits_2_without_a_traceback(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "rugs_data"
    not_a_folder.write_text("oops")
    done = subprocess.run([*VECTRA, "capture", "--url", "http://127.0.0.1:9"], capture_output=True, text=True,
                          env={**os.environ, "RUGS_DATA_DIR": str(not_a_folder)}, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is a file, not a folder" in done.stderr


def test_a_read_only_data_root(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "4m") as mount:
        (mount / "data").mkdir()
        remount(mount, read_only=True)
        env = {"RUGS_DATA_DIR": str(mount / "data")}
        for args in WRITERS + [["data", "prune", "--before", "2025-01-01", "--yes"]]:
            _one_line_exit_2(CliRunner().invoke(main, args, env=env), "read-only file system", "remount")
        for args in READERS + [["data", "prune", "--before", "2025-01-01"]]:  # a dry run only reads
            result = CliRunner().invoke(main, args, env=env)
            assert result.exit_code == 0, (args, result.output)


def test_start_up_on_a_full_disk(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", "4m") as mount:
        data = mount / "data"
        result = CliRunner().invoke(main, ["notes", "add", "--no-index", "first", "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        with Filler(mount):
            for args in WRITERS:
                _one_line_exit_2(CliRunner().invoke(main, [*args, "--data-dir", str(data)]), "is full",
                                 "free some space")
            # Pruning is how space is freed: a full disk must not stop it.
            pruned = CliRunner().invoke(main, ["data", "prune", "--before", "2025-01-01", "--yes", "--include-notes",
                                               "--data-dir", str(data)])
            assert pruned.exit_code == 0, pruned.output


def test_a_storage_error_mid_command_is_one_line_too() -> None:
    @click.group(cls=VectraGroup)
    def group() -> None:
        pass

    @group.command()
    def write() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/data/events_parquet/x.parquet")

    @group.command()
    def other() -> None:
        raise OSError(errno.ENOENT, "No such file or directory", "/somewhere")

    _one_line_exit_2(CliRunner().invoke(group, ["write"]), "/data/events_parquet/x.parquet", "is full")
    assert isinstance(CliRunner().invoke(group, ["other"]).exception, FileNotFoundError)  # not ours: unchanged


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/feed", "http://", "http://host:99999/"])
def test_a_capture_url_that_cannot_work_is_refused_at_start(tmp_path: Path, url: str) -> None:
    started = time.monotonic()
    done = subprocess.run([*VECTRA, "capture", "--url", url, "--data-dir", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "--url" in done.stderr and time.monotonic() - started < 30
    assert not (tmp_path / "data" / "spool").exists()  # refused before anything started


def test_connect_errors_keep_the_cause_and_start_up_sweeps_run(tmp_path: Path) -> None:
    """Nothing listens on the port: each connect_error row says "Connection refused". A status
    temp file left by a killed daemon (`run/.capture-status.json.<dead pid>.partial`) is swept."""
    paths = DataPaths(tmp_path / "data")
    paths.run.mkdir(parents=True)
    stale = paths.run / ".capture-status.json.999999999.partial"
    stale.write_text("{")
    port = free_port()
    daemon = CaptureDaemon(CaptureConfig(url=f"http://127.0.0.1:{port}", data_dir=paths, backoff_initial=0.1))

    async def run() -> dict:
        task = asyncio.create_task(daemon.run())
        for _ in range(100):
            await asyncio.sleep(0.05)
            if daemon.reconnects >= 2 and daemon.recovery.get("state") == "done":
                break
        daemon.request_stop()
        return await task

    asyncio.run(run())
    errors = [json.loads(r[0])["error"] for r in rows(paths, "system_event", "raw_json", "event_name = 'connect_error'")]
    assert len(errors) >= 2
    assert all("Connection refused" in e and e != "Connection error" for e in errors), errors
    assert not stale.exists()
