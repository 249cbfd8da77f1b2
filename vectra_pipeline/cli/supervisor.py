"""Children of `vectra up`, supervised: a child that exits non-zero is restarted with backoff, and
the log says why (exit code or signal, and the last thing it wrote to stderr).

Each child runs in its own process group, so stopping reaches its whole tree (`dagster dev` ignores
signals sent to a plain background job). A child that exits 0 (it was told to stop) or with 2 (a
usage or configuration error: restarting would not help) stops everything instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import click

from vectra_capture.urls import redact_text

CONFIG_ERROR_EXIT = 2  # click usage errors and BadInput (an unusable data root)


@dataclass
class Child:
    name: str
    args: list[str]
    restart: bool = True
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0  # consecutive exits that came before `stable_seconds`
    restart_at: float | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=5))


def _why(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, env: dict[str, str], backoff_initial: float = 1.0, backoff_max: float = 60.0,
                 stable_seconds: float = 60.0, echo: Callable[[str], None] | None = None) -> None:
        self.env = env
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_seconds = stable_seconds
        self.echo = echo or (lambda text: click.echo(text, err=True))
        self.children: list[Child] = []

    def add(self, name: str, args: list[str], restart: bool = True) -> Child:
        child = Child(name, args, restart)
        self.children.append(child)
        self._start(child)
        return child

    def _start(self, child: Child) -> None:
        self.echo(f"[up] starting {child.name}: {redact_text(' '.join(child.args))}")
        child.proc = subprocess.Popen(child.args, env=self.env, start_new_session=True, stderr=subprocess.PIPE)
        child.started_at = time.monotonic()
        child.restart_at = None
        threading.Thread(target=self._pass_stderr, args=(child, child.proc), daemon=True).start()

    @staticmethod
    def _pass_stderr(child: Child, proc: subprocess.Popen) -> None:
        """The child's stderr goes on to ours as it comes; its last lines are kept to say why it died."""
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, b""):
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            text = line.decode("utf-8", "replace").strip()
            if text:
                child.tail.append(text)

    def poll(self) -> str | None:
        """One supervision pass: restart what is due; a reason string when everything must stop."""
        now = time.monotonic()
        for child in self.children:
            if child.proc is None:
                if child.restart_at is not None and now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            uptime = now - child.started_at
            last = f"; last output: {child.tail[-1]!r}" if child.tail else ""
            if code == 0 or not child.restart:
                return f"{child.name} {_why(code)}{last}: stopping the rest"
            if code == CONFIG_ERROR_EXIT:
                return f"{child.name} {_why(code)} (a usage or configuration error; restarting would not help){last}"
            child.failures = 1 if uptime >= self.stable_seconds else child.failures + 1
            delay = min(self.backoff_max, self.backoff_initial * 2 ** (child.failures - 1))
            child.proc = None
            child.restart_at = now + delay
            self.echo(f"[up] {child.name} {_why(code)} after {uptime:.1f} s{last}: restarting in {delay:.1f} s "
                      f"(restart {child.restarts + 1})")
        return None

    def run(self, stopping: Callable[[], bool], interval: float = 0.2) -> str | None:
        """Supervise until `stopping()` (None) or a child ends everything (the reason)."""
        while not stopping():
            reason = self.poll()
            if reason:
                self.echo(f"[up] {reason}")
                return reason
            time.sleep(interval)
        return None

    def stop_all(self, grace: float = 20.0) -> None:
        """Stop in the reverse order of starting: clients (Dagster, the daemon) before the servers
        they use (the feed, PostgreSQL), so nothing logs a refused connection on the way out."""
        for child in reversed([c for c in self.children if c.proc is not None]):
            if child.proc.poll() is None:
                os.killpg(child.proc.pid, signal.SIGTERM)
            try:
                child.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.echo(f"[up] {child.name} did not stop in {grace:.0f}s: killing it")
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
