"""`vectra feed serve`: replay recordings as a local Socket.IO server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from vectra_capture.replay.server import ReplayOptions
from vectra_capture.replay.server import serve as serve_events
from vectra_capture.replay.sources import load_recordings
from vectra_pipeline.cli.common import emit_json, json_option


@click.group()
def feed() -> None:
    """A local replay feed: recordings served as the real server would."""


@feed.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (loopback unless you say so).")
@click.option("--port", default=0, type=int, help="Port (0 = any free port, printed on start).")
@click.option("--speed", default=1.0, type=float, show_default=True, help="1 = real time, 0 = as fast as possible.")
@click.option("--repeat", default=1, type=int, show_default=True, help="How many times to play the recordings.")
@click.option("--loop", is_flag=True, help="Play forever (until Ctrl-C).")
@click.option("--max-gap", default=5.0, type=float, show_default=True, help="Cap on a recorded pause, seconds.")
@click.option("--ping-interval", default=25.0, type=float, show_default=True,
              help="Engine.IO ping interval, seconds (clients must answer each ping).")
@json_option
def serve(paths: tuple[Path, ...], host: str, port: int, speed: float, repeat: int, loop: bool,
          max_gap: float, ping_interval: float, as_json: bool) -> None:
    """Replay raw samples, raw captures, legacy JSONL or ws_event Parquet files (or folders)."""

    if speed < 0 or repeat < 1:
        raise click.BadParameter("--speed must be >= 0 and --repeat >= 1")
    try:
        recording = load_recordings(list(paths))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if not recording.events:
        raise click.ClickException("no events in the given recordings")
    if recording.skipped:
        click.echo(f"skipped while loading: {dict(recording.skipped)}", err=True)
    options = ReplayOptions(host=host, port=port, speed=speed, repeat=repeat, loop=loop, max_gap=max_gap,
                            ping_interval=ping_interval)
    summary = asyncio.run(serve_events(recording.events, options))
    if as_json:
        emit_json({**summary.to_dict(), "skipped": dict(recording.skipped)})
    else:
        click.echo(f"emitted {summary.emitted} events in {summary.repetitions} repetition(s) to "
                   f"{summary.clients_seen} client(s)")
