"""The three LanceDB tables as assets (group "vectors"), their model checks, and the 15-minute schedule.

Each table has its own pool (`vectors_<table>`; dagster.yaml limits every pool to 1), so two runs never
write the same table at once; the table's file lock covers CLI builds running beside Dagster. A run that
finds the table locked waits (the resource's lock_wait_seconds), then skips the table: no materialization,
an observation saying why, and the run stays green, since the build holding the lock indexes the same
sources.
"""

from collections.abc import Iterator

import dagster as dg

from vectra_capture.store import LockHeld
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.table_metadata import PREVIEW_ROWS, markdown_rows, table_metadata
from vectra_pipeline.defs.vectors.resources import VectorIndexResource
from vectra_pipeline.index.build import build_table
from vectra_pipeline.index.errors import VectorIndexError
from vectra_pipeline.index.model_check import model_check
from vectra_pipeline.index.stats import head_rows
from vectra_pipeline.index.tables import TABLES, table_schema

UPSTREAM: dict[str, list[dg.AssetKey]] = {
    "events": [dg.AssetKey("ws_event"), dg.AssetKey("system_event"), dg.AssetKey("games"),
               dg.AssetKey("complete_game")],
    "code_context": [],
    "debug_notes": [],
}
DESCRIPTIONS = {
    "events": "One row per document with its vector: a protocol document per event name, one per game, and short "
              "ones for trades, side bets, chat messages and system events (vectors/events.lance).",
    "code_context": "One row per section of a CONTEXT.md in the repo, with its vector (vectors/code_context.lance).",
    "debug_notes": "One row per docs/decisions/*.md file or note added with `vectra notes add`, with its vector "
                   "(vectors/debug_notes.lance).",
}
ROW_COUNT_NOTE = "dagster/row_count: the rows of the whole table after the build."


def preview(paths: DataPaths, table: str) -> str:
    """The first rows of the table, without the vector and hash columns."""
    rows = head_rows(paths, table, PREVIEW_ROWS)
    return "_no table_" if rows is None else markdown_rows(rows)


class VectorBuildConfig(dg.Config):
    full: bool = False  # drop and rebuild instead of indexing only new or changed source files


def _vector_asset(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=f"vectors_{table}",
        group_name="vectors",
        kinds={"lancedb", "python"},
        deps=UPSTREAM[table],
        pool=f"vectors_{table}",
        description=f"{DESCRIPTIONS[table]}\n\n{ROW_COUNT_NOTE}",
        output_required=False,  # a table another build holds is skipped, not failed
    )
    def _asset(context: dg.AssetExecutionContext, config: VectorBuildConfig,
               vector_index: VectorIndexResource) -> Iterator[dg.MaterializeResult]:
        paths = vector_index.data_paths()
        wait_s = vector_index.lock_wait_seconds
        try:
            r = build_table(paths, table, full=config.full, embedder=vector_index.embedder,
                            lock_wait_s=wait_s)
        except LockHeld as exc:
            reason = (f"skipped: another index build (e.g. `vectra index build`) is writing the {table} table "
                      f"and still held its lock after {wait_s:g} s ({exc}); that build indexes the same "
                      f"sources, and the next scheduled run picks up anything newer")
            context.log.warning("%s", reason)
            context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata={
                "skipped": True, "reason": reason, "lock_wait_seconds": wait_s}))
            return
        except VectorIndexError as exc:
            raise dg.Failure(description=str(exc)) from exc
        context.log.info("%s", r.message)
        yield dg.MaterializeResult(metadata={
            **table_metadata(table_schema(vector_index.embedder), r.rows, preview(paths, table)),
            "documents_embedded": r.embedded, "documents_skipped": r.skipped, "documents_deleted": r.deleted,
            "files_changed": r.files_changed, "files_removed": r.files_removed,
            "invalid_raw_rows": r.invalid_rows, "seconds": r.seconds, "model_load_seconds": r.load_seconds,
            "docs_per_s": r.docs_per_s, "optimized": r.optimized, "mode": r.mode, "summary": r.message,
        })

    return _asset


def _model_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=dg.AssetKey(f"vectors_{table}"), name="model_matches_manifest",
                    description="Manifest, table and configured embedding model agree (else: rebuild with --full).")
    def _check(vector_index: VectorIndexResource) -> dg.AssetCheckResult:
        ok, message = model_check(vector_index.data_paths(), table, vector_index.embedder)
        return dg.AssetCheckResult(passed=ok, description=message, metadata={"detail": message})

    return _check


vector_assets = [_vector_asset(t) for t in TABLES]
vector_checks = [_model_check(t) for t in TABLES]

vectors_job = dg.define_asset_job(
    "vectors_incremental",
    selection=dg.AssetSelection.assets(*[f"vectors_{t}" for t in TABLES]),
    description="Incremental indexing of the three vector tables (only new or changed source files).",
)
vectors_schedule = dg.ScheduleDefinition(
    name="vectors_every_15_minutes", job=vectors_job, cron_schedule="*/15 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=vector_assets, asset_checks=vector_checks, jobs=[vectors_job],
                          schedules=[vectors_schedule])
