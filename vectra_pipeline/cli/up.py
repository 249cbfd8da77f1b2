"""`vectra up`: the whole system in one terminal (what `make run` starts).

Each child runs in its own process group, so Ctrl-C here stops all of them, and `dagster dev`
(which ignores signals sent to a plain background job) is stopped through its group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click

from vectra_pipeline.cli.common import data_dir_option, resolve_paths

LOCAL_ROLL_SECONDS = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(name: str, args: list[str], env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    click.echo(f"[up] starting {name}: {' '.join(args)}", err=True)
    return name, subprocess.Popen(args, env=env, start_new_session=True)


def _stop_all(children: list[tuple[str, subprocess.Popen]], grace: float = 20.0) -> None:
    for _name, proc in children:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, proc in children:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            click.echo(f"[up] {name} did not stop in {grace:.0f}s: killing it", err=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@click.command()
@click.option("--feed", "feed_mode", type=click.Choice(["local", "live"]), default="local", show_default=True,
              help="local: replay the recordings on 127.0.0.1; live: the rugs.fun backend.")
@click.option("--recordings", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Recordings the local feed replays (files or folders), in a loop.")
@click.option("--speed", default=1.0, type=float, show_default=True, help="Local feed speed (1 = real time).")
@click.option("--dagster-home", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="DAGSTER_HOME (the folder with dagster.yaml).")
@click.option("--workspace", type=click.Path(exists=True, path_type=Path), default=Path("workspace.yaml"),
              show_default=True)
@click.option("--ui-port", default=3000, type=int, show_default=True, help="Dagster UI port on 127.0.0.1.")
@click.option("--explorer-port", default=8765, type=int, show_default=True,
              help="Protocol Explorer port on 127.0.0.1.")
@click.option("--roll-seconds", default=None, type=float,
              help="How often the daemon rolls its spool into Parquet (default: 60 for the local demo feed, "
                   "the daemon's own 15 min for the live feed).")
@data_dir_option
def up(feed_mode: str, recordings: tuple[Path, ...], speed: float, dagster_home: Path, workspace: Path,
       ui_port: int, explorer_port: int, roll_seconds: float | None, data_dir: str | None) -> None:
    """Start the feed (local replay or live), the capture daemon, the Dagster UI and the Protocol Explorer;
    Ctrl-C stops all."""
    if feed_mode == "local" and not recordings:
        raise click.UsageError("--feed local needs --recordings")
    paths = resolve_paths(data_dir)
    env = {**os.environ, "RUGS_DATA_DIR": str(paths.root), "DAGSTER_HOME": str(dagster_home.resolve())}
    vectra = [sys.executable, "-m", "vectra_pipeline.cli"]
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        capture_args = [*vectra, "capture", "--data-dir", str(paths.root)]
        if roll_seconds is None and feed_mode == "local":
            roll_seconds = LOCAL_ROLL_SECONDS  # the demo's first typed partitions appear within minutes
        if roll_seconds is not None:
            capture_args += ["--roll-seconds", str(roll_seconds)]
        if feed_mode == "local":
            port = _free_port()
            children.append(_start("feed", [*vectra, "feed", "serve", "--port", str(port), "--speed", str(speed),
                                            "--loop", *map(str, recordings)], env))
            capture_args += ["--url", f"http://127.0.0.1:{port}"]
        children.append(_start("capture", capture_args, env))
        children.append(_start("dagster", [sys.executable, "-m", "dagster", "dev", "-w", str(workspace),
                                           "-h", "127.0.0.1", "-p", str(ui_port)], env))
        children.append(_start("explorer", [*vectra, "explorer", "--port", str(explorer_port), "--data-dir",
                                            str(paths.root)], env))
        click.echo(f"[up] data root {paths.root}\n[up] Protocol Explorer on http://127.0.0.1:{explorer_port}/ "
                   f"(live frames at once)\n[up] Dagster UI on http://127.0.0.1:{ui_port} (ready in ~15 s)\n"
                   f"[up] `vectra status` shows the daemon, `vectra tail` the frames. Ctrl-C stops everything.",
                   err=True)
        while not stopping:
            for name, proc in children:
                if proc.poll() is not None:
                    click.echo(f"[up] {name} exited with code {proc.returncode}: stopping the rest", err=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        click.echo("[up] stopping...", err=True)
        _stop_all(children)
