"""`vectra schema show|check|migrate`: the schema manifest from the command line."""

from __future__ import annotations

import sys

import click

from vectra_capture.store import read_manifest
from vectra_pipeline import duck
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths
from vectra_pipeline.derive.checks import schema_drift
from vectra_pipeline.derive.schema_manifest import MANIFEST, SCHEMA_VERSION, check_manifest
from vectra_pipeline.derive.schema_manifest import migrate as run_migrate


@click.group()
def schema() -> None:
    """The schema manifest (manifests/schema_version.json)."""


@schema.command()
@data_dir_option
@json_option
def show(data_dir: str | None, as_json: bool) -> None:
    """Print the manifest (and the code's version)."""

    paths = resolve_paths(data_dir)
    try:
        manifest = read_manifest(paths, MANIFEST)
    except ValueError as exc:
        manifest = {"error": str(exc)}
    if as_json:
        emit_json({"code_version": SCHEMA_VERSION, "manifest": manifest})
        return
    if manifest is None:
        click.echo(f"no manifest under {paths.manifests} (code version {SCHEMA_VERSION}); run `vectra schema migrate`")
        return
    if "error" in manifest:
        click.echo(manifest["error"])
        return
    click.echo(f"manifest version {manifest.get('version')} (code version {SCHEMA_VERSION})")
    for doc_type, fields in sorted(manifest.get("doc_types", {}).items()):
        click.echo(f"  {doc_type}: " + ", ".join(f"{k} {v}" for k, v in fields.items()))


@schema.command()
@click.option("--drift/--no-drift", default=False, help="Also report payload fields no model knows (warning only; "
              "scans the last 2 days of raw).")
@data_dir_option
@json_option
def check(drift: bool, data_dir: str | None, as_json: bool) -> None:
    """Run the manifest check (the same one Dagster runs hourly). Exit code 1 when it fails."""
    paths = resolve_paths(data_dir)
    outcome = check_manifest(paths)
    drift_outcome = None
    if drift:
        with duck.connect() as con:
            drift_outcome = schema_drift(con, paths)
    if as_json:
        out = {"passed": outcome.passed, "summary": outcome.summary, **outcome.details}
        if drift_outcome:
            out["drift"] = {"passed": drift_outcome.passed, "summary": drift_outcome.summary, **drift_outcome.details}
        emit_json(out)
    else:
        click.echo(("OK: " if outcome.passed else "FAILED: ") + outcome.summary)
        for example in outcome.details.get("examples", []):
            click.echo(f"  {example}")
        if drift_outcome:
            click.echo(("OK: " if drift_outcome.passed else "WARNING: ") + drift_outcome.summary)
            for f in drift_outcome.details["unknown_fields"]:
                click.echo(f"  {f['event']}.{f['field']}: {f['count']} since {f['first_seen']}")
    sys.exit(0 if outcome.passed else 1)


@schema.command()
@data_dir_option
@json_option
def migrate(data_dir: str | None, as_json: bool) -> None:
    """Bring the data root to the code's schema version and rewrite the manifest."""
    outcome = run_migrate(resolve_paths(data_dir, write=True))
    if as_json:
        emit_json({"passed": outcome.passed, "summary": outcome.summary, **outcome.details})
    else:
        click.echo(outcome.summary)
    sys.exit(0 if outcome.passed else 1)
