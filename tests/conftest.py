"""Shared fixtures: real processes on 127.0.0.1 (replay feed -> capture daemon -> Parquet)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vectra_capture.store.layout import DataPaths

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RAW_SAMPLES = FIXTURES / "raw" / "websocket_raw_samples.jsonl"
LEGACY_DIR = FIXTURES / "legacy" / "rugs_recordings"
VECTRA = [sys.executable, "-m", "vectra_pipeline.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_port(port: int, timeout: float = 30.0) -> None:
    def is_open() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    assert wait_for(is_open, timeout), f"nothing listens on 127.0.0.1:{port}"


class Proc:
    """A vectra subprocess with its output captured to files (no pipe can fill up)."""

    def __init__(self, args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        self.popen = subprocess.Popen(
            [*VECTRA, *args], stdout=open(self.out, "w"), stderr=open(self.err, "w"),  # noqa: SIM115
            env={**os.environ, **(env or {})}, cwd=ROOT,
        )

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> int:
        self.signal(signal.SIGTERM)
        try:
            return self.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()

    def json(self) -> dict:
        return json.loads(self.out.read_text())

    def stderr(self) -> str:
        return self.err.read_text()


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    started: list[Proc] = []

    def start(args: list[str], name: str, env: dict[str, str] | None = None) -> Proc:
        p = Proc(args, tmp_path, name, env)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.popen.poll() is None:
            p.popen.kill()
            p.popen.wait()


def capture_recording(
    start: Callable[..., Proc], data_dir: Path, recordings: list[Path], repeat: int = 1, speed: float = 0
) -> dict:
    """Replay recordings through a real feed server into a real capture daemon; stop the daemon
    after the feed has delivered everything. Returns the feed's --json summary."""
    port = free_port()
    feed = start(["feed", "serve", "--port", str(port), "--speed", str(speed), "--repeat", str(repeat), "--json",
                  *map(str, recordings)], "feed")
    wait_port(port)
    daemon = start(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data_dir)], "daemon")
    assert feed.wait(120) == 0, feed.stderr()
    summary = feed.json()
    assert daemon.stop() == 0, daemon.stderr()
    return summary


@pytest.fixture(scope="session")
def captured_raw(tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    """The real fixture samples (websocket_raw_samples.jsonl) captured through feed -> daemon.
    Session-scoped: treat as read-only; copy it if a test needs to write."""
    workdir = tmp_path_factory.mktemp("captured_raw")
    data_dir = workdir / "data"
    started: list[Proc] = []

    def start(args: list[str], name: str, env: dict[str, str] | None = None) -> Proc:
        p = Proc(args, workdir, name, env)
        started.append(p)
        return p

    try:
        summary = capture_recording(start, data_dir, [RAW_SAMPLES])
    finally:
        for p in started:
            if p.popen.poll() is None:
                p.popen.kill()
    (workdir / "feed_summary.json").write_text(json.dumps(summary))
    return DataPaths(data_dir)
