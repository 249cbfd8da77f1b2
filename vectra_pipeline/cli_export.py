"""`vectra data export --format jsonl --output DIR`: the canonical Parquet as JSONL (registered under
`data` by cli_data.py via `data.add_command(export)`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vectra_pipeline.cli_common import data_dir_option, emit_json, json_option, resolve_paths


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(file_okay=False), help="Folder to write into.")
@click.option("--doc-type", "doc_types", multiple=True, help="Only this doc_type (repeatable).")
@data_dir_option
@json_option
def export(fmt: str, output: str, doc_types: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Write the canonical data out as JSONL: OUTPUT/<doc_type>/<date>.jsonl."""
    from tqdm import tqdm

    from vectra_pipeline.export_jsonl import export_jsonl, partitions

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
