"""The `vectra` command line: one module per command group, registered here explicitly.

Nothing here imports torch, sentence-transformers or LanceDB (they load inside the index package
when a command needs them), and a command's module is imported only when that command runs, so
`vectra index query` does not pay for the capture daemon's socket.io/aiohttp imports (~1 s cold).
"""

from __future__ import annotations

import importlib
import logging

import click

from vectra_pipeline.cli.common import VectraGroup

# command name -> the module of vectra_pipeline.cli defining it (as a function of the same name)
COMMANDS = {
    "capture": "capture", "status": "capture", "tail": "tail", "browser": "browser", "up": "up", "feed": "feed",
    "explorer": "explorer", "legacy": "legacy", "data": "data", "schema": "schema", "index": "index",
    "notes": "index", "protocol": "protocol", "mcp": "mcp", "cluster": "cluster",
}


class LazyGroup(VectraGroup):
    """Registers the commands by name and imports a command's module when it is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        # imported here on purpose: the point is not to import every command group at start-up
        return getattr(importlib.import_module(f"vectra_pipeline.cli.{module}"), cmd_name)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Vectra: capture the rugs.fun feed, query it, index it."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
