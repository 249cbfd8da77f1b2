"""Options, the data root check and output helpers every command group shares."""

from __future__ import annotations

import json
import signal
from typing import Any

import click

from vectra_capture.store.layout import DataPaths
from vectra_capture.store.root import DataRootError, check_data_root, storage_problem

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data root: a folder or s3://bucket/prefix (default: $RUGS_DATA_DIR or ~/rugs_data).",
)
spool_dir_option = click.option(
    "--spool-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="With an s3:// data root: the local folder for what cannot live on object storage (spool, "
         "locks, status, caches; default: $VECTRA_LOCAL_DIR or ~/.local/state/vectra/<bucket>/<prefix>).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


class BadInput(click.ClickException):
    """Input the command cannot use (a bad filter, an unusable data root...): one line
    `Error: <what is wrong and what to do>`, exit code 2 (click's usage-error code), no usage block,
    no traceback."""

    exit_code = 2


def resolve_paths(data_dir: str | None, write: bool = False, allow_full: bool = False,
                  local_dir: str | None = None) -> DataPaths:
    """The data root, checked: readable always; created, writable and not full with `write`."""
    try:
        return check_data_root(DataPaths.resolve(data_dir, local_dir), write=write, allow_full=allow_full)
    except DataRootError as exc:
        raise BadInput(str(exc)) from None


def local_only(paths: DataPaths, feature: str) -> None:
    """Features not supported on an object-storage root yet say so (exit 2) instead of misbehaving."""
    if paths.remote is not None:
        raise BadInput(f"{feature} is not supported on an object-storage data root ({paths.location}) yet; "
                       f"use a local data root")


class VectraGroup(click.Group):
    """Turns a storage error met mid-command (disk full, read-only, no permission) into the same
    one-line exit-2 message as the start-up check, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataRootError as exc:
            raise BadInput(str(exc)) from None
        except OSError as exc:
            message = storage_problem(exc)
            if message is None:
                raise
            raise BadInput(message) from None


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


class StopRequest:
    """Set by SIGINT / SIGTERM, for commands that run until stopped and finish their work cleanly."""

    def __init__(self) -> None:
        self._requested = False

    def requested(self) -> bool:
        return self._requested

    def _on_signal(self, _signum: int, _frame: object) -> None:
        self._requested = True


def stop_on_signals() -> StopRequest:
    stop = StopRequest()
    signal.signal(signal.SIGINT, stop._on_signal)
    signal.signal(signal.SIGTERM, stop._on_signal)
    return stop
