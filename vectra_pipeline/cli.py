"""The `vectra` command line. Each group lives in its own module and is imported only when used,
so `vectra status` never pays for Dagster, LanceDB or torch."""

from __future__ import annotations

import importlib
import logging

import click

# command name -> "module:attribute" of a click command or group
COMMANDS: dict[str, str] = {
    "capture": "vectra_pipeline.cli_capture:capture",
    "up": "vectra_pipeline.cli_up:up",
    "status": "vectra_pipeline.cli_capture:status",
    "feed": "vectra_pipeline.cli_feed:feed",
    "legacy": "vectra_pipeline.cli_legacy:legacy",
    "data": "vectra_pipeline.cli_data:data",
    "schema": "vectra_pipeline.cli_schema:schema",
    "index": "vectra_pipeline.cli_index:index",
    "notes": "vectra_pipeline.cli_index:notes",
    "protocol": "vectra_pipeline.cli_protocol:protocol",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # that command group is not built yet
        return getattr(module, attr)


@click.group(cls=LazyGroup)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Vectra: capture the rugs.fun feed, query it, index it."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


if __name__ == "__main__":
    main()
