"""`vectra up` supervises its children: a daemon that exits non-zero is restarted with backoff and
the log says why; a configuration error (exit 2) or Ctrl-C stops everything. Real processes."""

from __future__ import annotations

import re
import signal
import sys
import threading
from pathlib import Path

from conftest import RAW_SAMPLES, wait_for

from vectra_capture.status import read_status
from vectra_capture.store import FileLock, is_locked
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli.supervisor import Supervisor


def test_vectra_up_restarts_a_daemon_that_fails(procs, tmp_path: Path) -> None:
    """The capture child fails while something else holds the data root's capture lock; `vectra up`
    restarts it with growing delays, saying why, and it runs once the lock is free."""
    paths = DataPaths(tmp_path / "data")
    lock = FileLock(paths.capture_lock).acquire()
    up = procs(["up", "--feed", "local", "--recordings", str(RAW_SAMPLES), "--speed", "4", "--no-dagster",
                "--data-dir", str(paths.root)], "up")

    def restarts() -> list[str]:
        return re.findall(r"\[up\] capture exited with code 1 .*", up.stderr())

    try:
        assert wait_for(lambda: len(restarts()) >= 2, 90), up.stderr()
    finally:
        lock.release()
    first, second = restarts()[:2]
    assert "another capture daemon is writing" in first and "restarting in 1.0 s (restart 1)" in first
    assert "restarting in 2.0 s (restart 2)" in second
    assert up.popen.poll() is None  # the supervisor and the feed kept running
    assert wait_for(lambda: read_status(paths).get("state") == "connected"
                    and read_status(paths).get("received", 0) > 0, 60), up.stderr()
    up.signal(signal.SIGTERM)
    assert up.wait(60) == 0
    assert not is_locked(paths.capture_lock)  # the daemon was stopped with it
    assert "[up] stopping..." in up.stderr()


def test_a_configuration_error_stops_everything_and_crashes_are_restarted(tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    flaky = ("import os, pathlib, signal, sys, time\n"
             "p = pathlib.Path(sys.argv[1]); n = int(p.read_text()) if p.exists() else 0\n"
             "p.write_text(str(n + 1)); print(f'attempt {n}', file=sys.stderr, flush=True)\n"
             "if n == 0: sys.exit(3)\n"
             "if n == 1: os.kill(os.getpid(), signal.SIGKILL)\n"
             "time.sleep(60)\n")
    messages: list[str] = []
    supervisor = Supervisor({}, backoff_initial=0.2, echo=messages.append)
    supervisor.add("flaky", [sys.executable, "-c", flaky, str(counter)])
    stop = threading.Event()
    outcome: list[str | None] = []
    runner = threading.Thread(target=lambda: outcome.append(supervisor.run(stop.is_set, interval=0.05)))
    runner.start()
    try:
        assert wait_for(lambda: counter.exists() and counter.read_text() == "3", 30), messages
        exits = [m for m in messages if "restarting in" in m]
        assert "flaky exited with code 3" in exits[0] and "'attempt 0'" in exits[0] and "0.2 s" in exits[0]
        assert "flaky killed by SIGKILL" in exits[1] and "'attempt 1'" in exits[1] and "0.4 s" in exits[1]
        supervisor.add("broken", [sys.executable, "-c", "import sys; print('bad setting', file=sys.stderr); sys.exit(2)"])
        runner.join(30)
        assert outcome and "broken exited with code 2" in outcome[0] and "bad setting" in outcome[0]
        assert "restarting would not help" in outcome[0]
    finally:
        stop.set()
        runner.join(10)
        supervisor.stop_all(grace=10)
    assert all(c.proc is None or c.proc.poll() is not None for c in supervisor.children)
