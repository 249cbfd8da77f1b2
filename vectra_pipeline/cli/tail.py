"""`vectra tail`: frames as they arrive, read from the spool (and the Parquet it rolls into)."""

from __future__ import annotations

import sys

import click

from vectra_pipeline import duck
from vectra_pipeline.cli.common import data_dir_option, json_option, resolve_paths, stop_on_signals
from vectra_pipeline.service.recent import Frame, SpoolTail, follow, recent_frames


def _line(frame: Frame) -> str:
    what = frame.event_name or frame.doc_type
    game = f" {frame.game_id}" if frame.game_id else ""
    arrow = {"received": "<-", "sent": "->"}.get(frame.direction, "  ")
    return f"{frame.ts:%H:%M:%S.%f}"[:-3] + f" {arrow} {what:<26}{game}  {frame.preview}"


@click.command()
@click.option("--event", "event_name", default=None, help="Only frames of this event name.")
@click.option("--since", default=10.0, type=float, show_default=True, help="Start with the frames of the last N seconds.")
@click.option("--once", is_flag=True, help="Print the frames of the last --since seconds and exit.")
@data_dir_option
@json_option
def tail(event_name: str | None, since: float, once: bool, data_dir: str | None, as_json: bool) -> None:
    """Frames as the capture daemon receives them (one JSON object per line with --json); Ctrl-C stops."""
    paths = resolve_paths(data_dir)
    stop = stop_on_signals()
    con = duck.connect()
    if once:
        frames = iter(recent_frames(paths, con, since, event_name, with_payload=True))
    else:
        frames = follow(paths, SpoolTail(paths, duck.connect), con, since, event_name, stop=stop.requested)
    try:
        for frame in frames:
            click.echo(frame.model_dump_json() if as_json else _line(frame))
            sys.stdout.flush()
    finally:
        con.close()
