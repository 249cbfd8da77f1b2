"""`vectra explorer`: the Protocol Explorer web page (live frames, events, games, search) on 127.0.0.1."""

from __future__ import annotations

import sys

import click

from vectra_pipeline.cli.common import data_dir_option, local_only, resolve_paths
from vectra_pipeline.explorer.security import LOOPBACK
from vectra_pipeline.explorer.server import serve


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8765, type=int, show_default=True)
@data_dir_option
def explorer(host: str, port: int, data_dir: str | None) -> None:
    """Serve the Protocol Explorer until Ctrl-C; it reads the data root and writes only verification statuses."""
    paths = resolve_paths(data_dir)
    local_only(paths, "The Protocol Explorer")
    if host not in LOOPBACK:
        click.echo(f"warning: listening on {host}: anyone who can reach it can read the data root", err=True)

    def ready(url: str) -> None:
        click.echo(f"Protocol Explorer on {url} (data root {paths.root}); Ctrl-C stops it", err=True)
        sys.stderr.flush()

    try:
        serve(paths, host, port, on_ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
