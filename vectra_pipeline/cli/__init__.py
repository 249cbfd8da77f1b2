"""The `vectra` command line: one module per command group, registered here explicitly.

Nothing here imports torch, sentence-transformers or LanceDB (they load inside the index package
when a command needs them), so `vectra status` and `vectra --help` start fast.
"""

from __future__ import annotations

import logging

import click

from vectra_pipeline.cli import (
    browser,
    capture,
    data,
    explorer,
    feed,
    index,
    legacy,
    mcp,
    protocol,
    schema,
    tail,
    up,
)
from vectra_pipeline.cli.common import VectraGroup


@click.group(cls=VectraGroup)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Vectra: capture the rugs.fun feed, query it, index it."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


for command in (capture.capture, capture.status, tail.tail, browser.browser, up.up, feed.feed, explorer.explorer,
                legacy.legacy, data.data, schema.schema, index.index, index.notes, protocol.protocol, mcp.mcp):
    main.add_command(command)

