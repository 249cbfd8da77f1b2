"""Options and output helpers every command group shares."""

from __future__ import annotations

import json
from typing import Any

import click

from vectra_capture.store.layout import DataPaths

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data root (default: $RUGS_DATA_DIR or ~/rugs_data).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


class BadInput(click.ClickException):
    """Input the command cannot use: one line `Error: <what is wrong and what to do>`, exit code 2
    (click's usage-error code), no usage block, no traceback."""

    exit_code = 2


def resolve_paths(data_dir: str | None) -> DataPaths:
    return DataPaths.resolve(data_dir)


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
