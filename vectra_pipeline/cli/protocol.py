"""`vectra protocol show|verify`: what is known about each event name and how sure we are."""

from __future__ import annotations

import click

from vectra_capture.protocol.catalog import CATALOG, STATUSES, describe, set_status
from vectra_pipeline import duck
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths


def seen_counts(paths) -> dict[str, int]:
    """Rows per event_name in the raw ws_event Parquet (empty when there is none yet)."""
    if not any(paths.doc_type_dir("ws_event").glob("date=*/*.parquet")):
        return {}

    con = duck.connect()
    rows = con.execute(
        "SELECT event_name, count(*) FROM read_parquet(?, union_by_name=true) GROUP BY 1",
        [paths.glob("ws_event")],
    ).fetchall()
    return {name: n for name, n in rows}


@click.group()
def protocol() -> None:
    """The protocol catalog (docs/protocol.md facts) and its verification status."""


@protocol.command()
@click.argument("event", required=False)
@data_dir_option
@json_option
def show(event: str | None, data_dir: str | None, as_json: bool) -> None:
    """Show one EVENT in detail, or every known and seen event name."""
    paths = resolve_paths(data_dir)
    seen = seen_counts(paths)
    names = [event] if event else sorted(set(CATALOG) | set(seen))
    entries = [{**describe(paths, n), "rows_seen": seen.get(n, 0)} for n in names]
    if as_json:
        emit_json(entries[0] if event else entries)
        return
    if event:
        e = entries[0]
        click.echo(f"{e['name']}  ({'known' if e['known'] else 'not in the catalog'})")
        click.echo(f"  direction: {e['direction']}   needs login: {e['needs_login']}   traced: {e['traced']}")
        click.echo(f"  status: {e['verification']['status']}  (docs/protocol.md tag: {e['source_tag']})")
        if e["verification"].get("note"):
            click.echo(f"  note: {e['verification']['note']}")
        click.echo(f"  rows seen: {e['rows_seen']}")
        if e["meaning"]:
            click.echo(f"  {e['meaning']}")
        for fact in e["facts"]:
            click.echo(f"  - {fact}")
        return
    for e in entries:
        login = "login" if e["needs_login"] else ("public" if e["needs_login"] is False else "?")
        click.echo(f"{e['name']:<28} {str(e['direction']):<9} {login:<7} {e['verification']['status']:<17} "
                   f"{e['rows_seen']:>9}")


@protocol.command()
@click.argument("event")
@click.option("--status", type=click.Choice(STATUSES), required=True)
@click.option("--note", default=None, help="Why (evidence, capture file, correction).")
@data_dir_option
@json_option
def verify(event: str, status: str, note: str | None, data_dir: str | None, as_json: bool) -> None:
    """Record the verification status of EVENT in manifests/protocol_verification.json."""
    paths = resolve_paths(data_dir, write=True)
    entry = set_status(paths, event, status, note)  # type: ignore[arg-type]
    if as_json:
        emit_json({"event": event, **entry.model_dump()})
    else:
        click.echo(f"{event}: {entry.status}" + (f" ({note})" if note else ""))
