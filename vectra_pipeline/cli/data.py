"""`vectra data status|export|prune`: what the Parquet holds, the canonical data out as JSONL, old partitions removed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from datetime import date as Date
from pathlib import Path

import click
from tqdm import tqdm

from vectra_capture.store.prune import apply_prune, partition_date, plan_prune
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, local_only, resolve_paths
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


def _before_date(text: str) -> Date:
    """Only YYYY-MM-DD: `date.fromisoformat` also takes 20251030 and 2025-W44-1, which read as
    something else than they look."""
    day = partition_date(Path(f"date={text}"))
    if day is None:
        raise click.BadParameter(f"{text!r} is not a YYYY-MM-DD date (e.g. 2025-10-30)", param_hint="--before")
    return day


@data.command()
@click.option("--before", "before", required=True, help="Delete partitions dated strictly before this YYYY-MM-DD.")
@click.option("--yes", is_flag=True, help="Really delete (otherwise only list what would go).")
@click.option("--force", is_flag=True, help="Allow a --before date in the future (it deletes today's data too).")
@click.option("--include-quarantine", is_flag=True,
              help="Also delete quarantine/<source>/date=... partitions (kept by default: the only copy of "
                   "what could not be parsed).")
@click.option("--include-notes", is_flag=True,
              help="Also delete debug_note partitions (kept by default: notes are canonical).")
@data_dir_option
@json_option
def prune(before: str, yes: bool, force: bool, include_quarantine: bool, include_notes: bool,
          data_dir: str | None, as_json: bool) -> None:
    """Delete raw and typed partitions dated before DATE (through the store). Debug notes and
    quarantine are kept unless asked for."""
    day = _before_date(before)
    today = datetime.now(UTC).date()
    if day > today and not force:
        raise click.BadParameter(f"{day} is in the future (today is {today} UTC): that deletes today's data "
                                 f"too; pass --force if you mean it", param_hint="--before")
    # A full disk is exactly when pruning is needed: only refuse what cannot be written at all.
    paths = resolve_paths(data_dir, write=yes, allow_full=True)
    local_only(paths, "vectra data prune")
    plan = plan_prune(paths, day, include_quarantine=include_quarantine, include_notes=include_notes)
    removed = apply_prune(paths, plan) if yes else 0
    result = {
        "before": day.isoformat(), "deleted": yes, "files_removed": removed,
        "partitions": [f"{t}/{d}" for t, d in plan.delete],
        "quarantine_partitions": [f"{s}/{d}" for s, d in plan.delete_quarantine],
        "kept": {"debug_note": plan.kept_notes, "quarantine": plan.kept_quarantine},
        "skipped": plan.skipped,
    }
    if as_json:
        emit_json(result)
        return
    verb = "deleted" if yes else "would delete (pass --yes)"
    click.echo(f"{verb}: {len(plan.delete)} partitions before {day}")
    for p in result["partitions"]:
        click.echo(f"  {p}")
    if plan.delete_quarantine:
        click.echo(f"{verb}: {len(plan.delete_quarantine)} quarantine partitions")
        for p in result["quarantine_partitions"]:
            click.echo(f"  quarantine/{p}")
    if plan.kept_notes:
        click.echo(f"kept: {len(plan.kept_notes)} debug_note partitions before {day} "
                   f"(notes are canonical; --include-notes deletes them too)")
    if plan.kept_quarantine:
        click.echo(f"kept: {len(plan.kept_quarantine)} quarantine partitions before {day} "
                   f"(--include-quarantine deletes them too)")
    for p in plan.skipped:
        click.echo(f"skipped (not a date=YYYY-MM-DD folder): {p}")


@data.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--doc-type", "doc_types", multiple=True, help="Only this doc_type (repeatable).")
@data_dir_option
@json_option
def export(fmt: str, output: str, doc_types: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Write the canonical data out as JSONL: OUTPUT/<doc_type>/<date>.jsonl."""
    paths = resolve_paths(data_dir)
    local_only(paths, "vectra data export")
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
