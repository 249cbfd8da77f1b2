"""`vectra data status|prune` (and `export`, from the legacy helper's module)."""

from __future__ import annotations

import sys
from datetime import date as Date

import click

from vectra_pipeline.cli_common import data_dir_option, emit_json, json_option, resolve_paths


@click.group()
def data() -> None:
    """The Parquet data: what is there, export, prune."""


@data.command()
@data_dir_option
@json_option
def status(data_dir: str | None, as_json: bool) -> None:
    """Per doc_type and date: files, rows, bytes, first/last ts."""
    from vectra_pipeline.query import Query

    q = Query(resolve_paths(data_dir))
    try:
        rows = q.status()
    finally:
        q.close()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no Parquet data yet")
        return
    click.echo(f"{'doc_type':<15} {'date':<10} {'files':>5} {'rows':>10} {'bytes':>12}  first_ts .. last_ts")
    for r in rows:
        click.echo(f"{r['doc_type']:<15} {r['date']:<10} {r['files']:>5} {r['rows']:>10} {r['bytes']:>12}  "
                   f"{r['first_ts']} .. {r['last_ts']}")


@data.command()
@click.option("--before", "before", required=True, help="Delete partitions dated strictly before this YYYY-MM-DD.")
@click.option("--yes", is_flag=True, help="Really delete (otherwise only list what would go).")
@data_dir_option
@json_option
def prune(before: str, yes: bool, data_dir: str | None, as_json: bool) -> None:
    """Delete raw and typed partitions dated before DATE (through the store)."""
    from vectra_capture.store import delete_partition

    try:
        Date.fromisoformat(before)
    except ValueError:
        raise click.BadParameter(f"{before!r} is not a YYYY-MM-DD date", param_hint="--before") from None
    paths = resolve_paths(data_dir)
    targets = sorted(
        (doc.name.split("=", 1)[1], part.name.split("=", 1)[1])
        for doc in paths.events_parquet.glob("doc_type=*")
        for part in doc.glob("date=*")
        if part.name.split("=", 1)[1] < before
    )
    removed = {f"{t}/{d}": delete_partition(paths, t, d) for t, d in targets} if yes else {}
    result = {"before": before, "partitions": [f"{t}/{d}" for t, d in targets], "deleted": yes,
              "files_removed": sum(removed.values())}
    if as_json:
        emit_json(result)
    else:
        verb = "deleted" if yes else "would delete (pass --yes)"
        click.echo(f"{verb}: {len(targets)} partitions before {before}")
        for p in result["partitions"]:
            click.echo(f"  {p}")
    sys.exit(0)


from vectra_pipeline.cli_export import export  # noqa: E402  (its own module, registered under `data`)

data.add_command(export)
