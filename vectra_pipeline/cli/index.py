"""`vectra index build|query|stats` and `vectra notes add`: the LanceDB vector tables from the CLI."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from vectra_capture.store import LockHeld
from vectra_pipeline.cli.common import BadInput, data_dir_option, emit_json, json_option, resolve_paths
from vectra_pipeline.index.build import build
from vectra_pipeline.index.errors import InvalidFilter, VectorIndexError
from vectra_pipeline.index.search import search
from vectra_pipeline.index.stats import stats
from vectra_pipeline.index.tables import TABLES
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest
from vectra_pipeline.service.notes import add_note

TABLE_CHOICE = click.Choice(TABLES)


def _progress(total: int, desc: str):
    return tqdm(total=total, desc=desc, unit="doc", file=sys.stderr, leave=False)


@click.group()
def index() -> None:
    """Vector tables (events, code_context, debug_notes) derived from Parquet and the repo."""


@index.command("build")
@click.option("--full", "mode", flag_value="full", help="Drop and rebuild from the sources.")
@click.option("--incremental", "mode", flag_value="incremental", default=True,
              help="Index only new or changed source files (default).")
@click.option("--table", "tables", type=TABLE_CHOICE, multiple=True, help="Only this table (repeatable).")
@data_dir_option
@json_option
def build_command(mode: str, tables: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Build the vector tables, fully or incrementally."""

    paths = resolve_paths(data_dir, write=True)
    try:
        results = build(paths, full=mode == "full", tables=tables or TABLES, progress=_progress)
    except VectorIndexError as exc:
        raise click.ClickException(str(exc)) from exc
    except LockHeld as exc:  # another build (CLI or Dagster) is writing that table right now
        raise click.ClickException(f"another index build is running ({exc}); try again when it has finished") from exc
    summary = {
        "mode": mode, "data_dir": str(paths.root),
        "embedded": sum(r.embedded for r in results), "skipped": sum(r.skipped for r in results),
        "deleted": sum(r.deleted for r in results), "invalid_rows": sum(r.invalid_rows for r in results),
        "tables": {r.table: r.to_dict() for r in results},
    }
    if as_json:
        emit_json(summary)
        return
    for r in results:
        click.echo(f"{r.table:<13} {r.mode:<11} {r.message} ({r.seconds:.2f} s"
                   + (f", {r.docs_per_s} docs/s" if r.embedded else "") + ")")
    if summary["embedded"] == 0:
        click.echo("nothing new: 0 documents embedded")


@index.command()
@click.argument("text")
@click.option("--table", type=TABLE_CHOICE, default="events", show_default=True)
@click.option("--where", default=None, help="SQL filter on kind, event_name, game_id, player_id, date, source_file.")
@click.option("--limit", type=int, default=5, show_default=True)
@data_dir_option
@json_option
def query(text: str, table: str, where: str | None, limit: int, data_dir: str | None, as_json: bool) -> None:
    """Hybrid (vector + full-text) search of one table."""
    paths = resolve_paths(data_dir)
    try:
        results = search(text, table=table, where=where, limit=limit, paths=paths)
    except InvalidFilter as exc:
        raise BadInput(f"--where: {exc}") from exc
    except VectorIndexError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(results)
        return
    for i, r in enumerate(results, 1):
        tags = " ".join(f"{c}={r[c]}" for c in ("event_name", "game_id", "player_id", "date", "path") if r.get(c))
        click.echo(f"{i}. [{r['kind']}] {r['id']}  score {r['score']:.4f}  {tags}")
        snippet = r["text"].replace("\n", " ")
        click.echo(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
    if not results:
        click.echo("no results")


@index.command("stats")
@data_dir_option
@json_option
def stats_command(data_dir: str | None, as_json: bool) -> None:
    """Rows, kinds, indices and checkpoint state of each table."""
    out = stats(resolve_paths(data_dir))
    if as_json:
        emit_json(out)
        return
    click.echo(f"model: {out['model']} ({out['dim']} dims)")
    for name, info in out["tables"].items():
        if not info["exists"]:
            click.echo(f"{name:<13} missing (vectra index build --full)")
            continue
        if "error" in info:
            click.echo(f"{name:<13} ERROR {info['error']}")
            continue
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(info["kinds"].items()))
        click.echo(f"{name:<13} {info['rows']} rows, version {info['version']}, {info['files_tracked']} files "
                   f"tracked, built {info['built_at']} ({info['last_mode']}); {kinds}")


@click.group()
def notes() -> None:
    """Debug notes: stored as canonical Parquet, indexed into debug_notes."""


@notes.command()
@click.argument("text")
@click.option("--no-index", is_flag=True, help="Only store the note; index it on the next build.")
@data_dir_option
@json_option
def add(text: str, no_index: bool, data_dir: str | None, as_json: bool) -> None:
    """Add a note (Parquet doc_type=debug_note), then index it incrementally."""
    try:
        out = add_note(Context(resolve_paths(data_dir, write=True)), text, index=not no_index).model_dump(exclude_none=True)
    except BadRequest as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(out)
    else:
        click.echo(f"stored {out['stored']}; " + out.get("deferred", f"{out['embedded']} documents embedded"))
