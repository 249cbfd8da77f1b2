"""The `legacy_recordings` landing asset: every legacy JSONL file imported once into raw ws_event
Parquet (source=replay). Typed daily assets declare it as a dependency, so lineage shows it upstream."""


import dagster as dg

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.legacy.summary import per_file_markdown
from vectra_pipeline.defs.legacy.resources import LegacyImportResource


@dg.asset(
    key="legacy_recordings",
    group_name="landing",
    kinds={"parquet", "python"},
    description=(
        "Legacy JSONL recordings from RUGS_LEGACY_DIR imported into events_parquet/doc_type=ws_event "
        "(source=replay). Unchanged files are skipped; changed files replace their old rows; corrupt "
        "lines are salvaged or quarantined with file, line and reason."
    ),
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
    return dg.MaterializeResult(
        metadata={
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
    )
