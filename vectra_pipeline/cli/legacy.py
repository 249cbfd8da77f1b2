"""`vectra legacy import PATH...`: legacy JSONL recordings into raw Parquet (the asset's code)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.legacy.lines import DEFAULT_MAX_LINE_BYTES
from vectra_capture.store import LockHeld
from vectra_pipeline.cli.common import data_dir_option, emit_json, json_option, resolve_paths


@click.group()
def legacy() -> None:
    """Legacy JSONL recordings (RUGS_LEGACY_DIR)."""


@legacy.command("import")
@click.argument("sources", nargs=-1, type=click.Path(exists=True))
@click.option("--force", is_flag=True, help="Re-import files even when unchanged.")
@click.option("--workers", type=int, default=1, show_default=True, help="Processes importing changed files.")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_LINE_BYTES, show_default=True,
              help="Longer lines are quarantined with their size and first bytes (bounds memory per line).")
@data_dir_option
@json_option
def import_cmd(sources: tuple[str, ...], force: bool, workers: int, max_line_bytes: int, data_dir: str | None,
               as_json: bool) -> None:
    """Import PATH... (files or folders; default $RUGS_LEGACY_DIR or ~/rugs_recordings)."""

    paths = resolve_paths(data_dir, write=True)
    bar = tqdm(unit="file", file=sys.stderr, disable=None, desc="legacy import")

    def on_plan(n: int) -> None:
        bar.total = n
        bar.refresh()

    def on_file(res) -> None:  # noqa: ANN001
        bar.update(1)
        bar.set_postfix_str(res.file[-40:], refresh=False)

    try:
        summary = import_legacy([Path(s) for s in sources] or None, paths, force=force, workers=workers,
                                max_line_bytes=max_line_bytes, on_file=on_file, on_plan=on_plan)
    except LockHeld as exc:
        raise click.ClickException(f"another legacy import is running ({exc})") from exc
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        bar.close()
    if as_json:
        emit_json(summary)
    else:
        _print_human(summary)
    if summary["failed"]:
        sys.exit(1)  # after the summary: the other files were imported, failed ones are retried next run


def _print_human(s: dict) -> None:
    noisy = [r for r in s["per_file"] if r["status"] != "skipped" and (r["salvaged"] or r["quarantined"]
                                                                       or r["format"] == "unknown")]
    if noisy:
        click.echo(f"{'file':<44} {'format':<11} {'lines':>6} {'ok':>6} {'salv':>5} {'quar':>5} {'frag':>5}")
        for r in noisy:
            click.echo(f"{r['file'][-44:]:<44} {r['format']:<11} {r['lines']:>6} {r['imported']:>6} "
                       f"{r['salvaged']:>5} {r['quarantined']:>5} {r['fragments']:>5}")
        click.echo("")
    failed = [r for r in s["per_file"] if r["status"] == "failed"]
    for r in failed:
        click.echo(f"FAILED {r['file']}: {r['detail']}", err=True)
    rows = [
        ("files", f"{s['files']} ({s['imported_files']} imported, {s['skipped']} skipped unchanged, "
                  f"{s['unknown_format']} unknown format, {s['failed']} failed)"),
        ("lines", s["lines"]),
        ("  imported whole", s["imported"]),
        ("  salvaged", f"{s['salvaged']} lines -> {s['salvaged_records']} records "
                       f"({s['fragments']} unrecovered fragments quarantined)"),
        ("  quarantined", s["quarantined"]
                          if not s["oversized"] else f"{s['quarantined']} ({s['oversized']} over the line limit)"),
        ("  blank", s["blank"]),
        ("records written", s["records"]),
        ("quarantine rows", s["quarantine_rows"]),
        ("games", s["games"]),
        ("dates", ", ".join(s["dates"]) or "-"),
        ("gameId date mismatches", s["gameid_date_mismatch"]),
        ("seconds", s["seconds"]),
        ("data dir", s["data_dir"]),
    ]
    for k, v in rows:
        click.echo(f"{k:<24} {v}")
