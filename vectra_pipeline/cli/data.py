"""`vectra data status|export|prune`: what the Parquet holds, the canonical data out as JSONL, old partitions removed."""

from __future__ import annotations

import sys
from datetime import date as Date
from pathlib import Path

import click
from tqdm import tqdm

from vectra_capture.store import delete_partition
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths
from vectra_pipeline.export import export_jsonl, partitions
from vectra_pipeline.query import Query


@click.group()
def data() -> None:
    """The Parquet data: what is there, export, prune."""


@data.command()
@data_dir_option
@json_option
def status(data_dir: str | None, as_json: bool) -> None:
    """Per doc_type and date: files, rows, bytes, first/last ts."""
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


@data.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--doc-type", "doc_types", multiple=True, help="Only this doc_type (repeatable).")
@data_dir_option
@json_option
def export(fmt: str, output: str, doc_types: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Write the canonical data out as JSONL: OUTPUT/<doc_type>/<date>.jsonl."""
    paths = resolve_paths(data_dir)
    total = len(partitions(paths, list(doc_types) or None))
    with tqdm(total=total, unit="partition", file=sys.stderr, disable=None, desc="export") as bar:
        summary = export_jsonl(paths, Path(output).expanduser().resolve(), list(doc_types) or None,
                               on_partition=lambda _w: bar.update(1))
    if as_json:
        emit_json(summary)
        return
    for w in summary["partitions"]:
        click.echo(f"{w['doc_type']:<16} {w['date']}  {w['rows']:>9} rows  {w['path']}")
    click.echo(f"{summary['files']} files, {summary['rows']} rows in {summary['seconds']} s -> {summary['output']}")
