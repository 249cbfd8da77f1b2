"""`vectra up`: the whole system in one terminal (what `make run` starts).

The children (feed, capture daemon, Dagster, Protocol Explorer) are supervised (`supervisor.py`): one that exits
non-zero is restarted with backoff and the log says why; Ctrl-C here stops all of them.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import click

from vectra_pipeline.cli.common import data_dir_option, local_only, resolve_paths, stop_on_signals
from vectra_pipeline.cli.supervisor import Supervisor

LOCAL_ROLL_SECONDS = 60.0  # the demo rolls its spool every minute: typed partitions appear within minutes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@click.command()
@click.option("--feed", "feed_mode", type=click.Choice(["local", "live", "cdp"]), default="local", show_default=True,
              help="local: replay the recordings on 127.0.0.1; live: the rugs.fun backend; cdp: the player's own "
                   "browser (start it with `vectra browser`).")
@click.option("--cdp", "cdp_url", default="http://127.0.0.1:9222", show_default=True,
              help="With --feed cdp: the browser's DevTools endpoint.")
@click.option("--recordings", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Recordings the local feed replays (files or folders), in a loop.")
@click.option("--speed", default=1.0, type=float, show_default=True, help="Local feed speed (1 = real time).")
@click.option("--dagster-home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DAGSTER_HOME (the folder with dagster.yaml); required unless --no-dagster.")
@click.option("--workspace", type=click.Path(exists=True, path_type=Path), default=Path("workspace.yaml"),
              show_default=True)
@click.option("--ui-port", default=3000, type=int, show_default=True, help="Dagster UI port on 127.0.0.1.")
@click.option("--no-dagster", is_flag=True, help="Only the feed and the capture daemon (no Dagster UI).")
@click.option("--explorer-port", default=8765, type=click.IntRange(0, 65535), show_default=True,
              help="Protocol Explorer port on 127.0.0.1 (0: no explorer).")
@click.option("--roll-seconds", default=None, type=float,
              help="How often the daemon rolls its spool into Parquet (default: 60 for the local demo feed, "
                   "the daemon's own 15 min otherwise).")
@data_dir_option
def up(feed_mode: str, cdp_url: str, recordings: tuple[Path, ...], speed: float, dagster_home: Path | None,
       workspace: Path, ui_port: int, no_dagster: bool, explorer_port: int, roll_seconds: float | None,
       data_dir: str | None) -> None:
    """Start the feed (local replay, live, or the browser capture), the capture daemon, the Dagster UI and
    the Protocol Explorer; Ctrl-C stops all (the browser of --feed cdp is the player's own and keeps
    running). A child that exits non-zero is restarted with backoff."""
    if feed_mode == "local" and not recordings:
        raise click.UsageError("--feed local needs --recordings")
    if dagster_home is None and not no_dagster:
        raise click.UsageError("--dagster-home is required (or pass --no-dagster)")
    paths = resolve_paths(data_dir, write=True, allow_full=True)
    local_only(paths, "vectra up")
    env = {**os.environ, "RUGS_DATA_DIR": str(paths.root)}
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home.resolve())
    vectra = [sys.executable, "-m", "vectra_pipeline.cli"]
    stop = stop_on_signals()
    supervisor = Supervisor(env)
    reason = None
    try:
        capture_args = [*vectra, "capture", "--data-dir", str(paths.root)]
        if feed_mode == "local":
            port = _free_port()
            supervisor.add("feed", [*vectra, "feed", "serve", "--port", str(port), "--speed", str(speed), "--loop",
                                    *map(str, recordings)])
            capture_args += ["--url", f"http://127.0.0.1:{port}"]
        elif feed_mode == "cdp":
            capture_args += ["--cdp", cdp_url]
        if roll_seconds is None and feed_mode == "local":
            roll_seconds = LOCAL_ROLL_SECONDS
        if roll_seconds is not None:
            capture_args += ["--roll-seconds", str(roll_seconds)]
        supervisor.add("capture", capture_args)
        if explorer_port:
            supervisor.add("explorer", [*vectra, "explorer", "--port", str(explorer_port), "--data-dir",
                                        str(paths.root)])
            click.echo(f"[up] Protocol Explorer on http://127.0.0.1:{explorer_port}/ (live frames at once)", err=True)
        if not no_dagster:
            supervisor.add("dagster", [sys.executable, "-m", "dagster", "dev", "-w", str(workspace),
                                       "-h", "127.0.0.1", "-p", str(ui_port)])
            click.echo(f"[up] Dagster UI on http://127.0.0.1:{ui_port} (ready in ~15 s)", err=True)
        click.echo(f"[up] data root {paths.root}; `vectra status` shows the daemon, `vectra tail` the frames. "
                   "Ctrl-C stops everything.",
                   err=True)
        reason = supervisor.run(stop.requested)
    finally:
        click.echo("[up] stopping...", err=True)
        supervisor.stop_all()
    if reason is not None:
        sys.exit(1)
