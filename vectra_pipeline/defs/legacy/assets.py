"""The `legacy_recordings` landing asset: every legacy JSONL file imported once into raw ws_event
Parquet (source=replay). Typed daily assets declare it as a dependency, so lineage shows it upstream."""

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq

from vectra_capture.legacy.importer import DOC_TYPE, MANIFEST, import_legacy
from vectra_capture.legacy.summary import per_file_markdown
from vectra_capture.store import read_manifest
from vectra_capture.store.envelope import RAW_SCHEMAS
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.remote_path import arrow_source
from vectra_pipeline.defs.legacy.resources import LegacyImportResource
from vectra_pipeline.defs.table_metadata import PREVIEW_ROWS, column_schema, markdown_rows, table_metadata

PREVIEW_COLUMNS = ["ts", "event_name", "game_id", "session_id", "seq", "raw_json"]


def rows_in_store(paths: DataPaths) -> tuple[int, Path | None]:
    """Raw rows the legacy files hold in the store now (every successful import, this run's or an
    earlier one's, per the import manifest), and one of their Parquet files (the newest import)."""
    entries = (read_manifest(paths, MANIFEST) or {}).get("files", {}).values()
    rows, sample, newest = 0, None, -1.0
    for e in entries:
        result = e.get("result", {})
        rows += int(result.get("records", 0))
        if result.get("dates") and result.get("records") and e.get("imported_at", 0) > newest:
            newest = e["imported_at"]
            sample = paths.partition_dir(DOC_TYPE, result["dates"][0]) / e["parquet"]
    return rows, sample


def preview(sample: Path | None) -> str:
    if sample is None or not sample.exists():
        return "_no rows_"
    batch = next(pq.ParquetFile(arrow_source(sample)).iter_batches(batch_size=PREVIEW_ROWS, columns=PREVIEW_COLUMNS), None)
    return f"`{sample.name}`\n\n" + markdown_rows(batch.to_pylist() if batch is not None else [])


@dg.asset(
    key="legacy_recordings",
    group_name="landing",
    kinds={"parquet", "python"},
    description=(
        "One row per record of a legacy JSONL recording in RUGS_LEGACY_DIR, landed as a raw ws_event row "
        "(source=replay) in events_parquet/doc_type=ws_event. Unchanged files are skipped; changed files replace "
        "their old rows; corrupt lines are salvaged or quarantined with file, line and reason. "
        "dagster/row_count: the rows every imported legacy file holds in the store; `records`: those imported "
        "by this run."
    ),
    metadata={"dagster/column_schema": column_schema(RAW_SCHEMAS[DOC_TYPE])},
)
def legacy_recordings(context: dg.AssetExecutionContext, legacy_import: LegacyImportResource) -> dg.MaterializeResult:
    root = legacy_import.legacy_root()
    paths = legacy_import.data_paths()
    if not root.is_dir():
        raise dg.Failure(description=f"legacy dir {root} does not exist (set RUGS_LEGACY_DIR)")
    summary = import_legacy([root], paths, legacy_root=root)
    context.log.info(
        "legacy import: %s files (%s imported, %s skipped), %s records, %s quarantined lines, %s s",
        summary["files"], summary["imported_files"], summary["skipped"], summary["records"],
        summary["quarantined"], summary["seconds"],
    )
    for r in summary["per_file"]:
        if r["status"] == "failed":
            context.log.error("legacy import of %s failed: %s", r["file"], r["detail"])
    rows, sample = rows_in_store(paths)
    metadata: dict[str, Any] = {
        **table_metadata(RAW_SCHEMAS[DOC_TYPE], rows, preview(sample)),
        "files": summary["files"],
        "imported_files": summary["imported_files"],
        "skipped_files": summary["skipped"],
        "failed_files": summary["failed"],
        "unknown_format_files": summary["unknown_format"],
        "lines": summary["lines"],
        "records": summary["records"],
        "imported_lines": summary["imported"],
        "salvaged_lines": summary["salvaged"],
        "salvaged_records": summary["salvaged_records"],
        "quarantined_lines": summary["quarantined"],
        "oversized_lines": summary["oversized"],
        "unrecovered_fragments": summary["fragments"],
        "blank_lines": summary["blank"],
        "games": summary["games"],
        "gameid_date_mismatch": summary["gameid_date_mismatch"],
        "dates_touched": dg.MetadataValue.json(summary["dates"]),
        "seconds": summary["seconds"],
        "legacy_dir": dg.MetadataValue.path(str(root)),
        "per_file": dg.MetadataValue.md(per_file_markdown(summary)),
    }
    return dg.MaterializeResult(metadata=metadata)
