"""Asset checks next to their assets: key uniqueness per typed table, seed verification (blocking),
reconciliation raw -> typed (two multi-checks: one step each), and on the landing zone schema manifest +
schema drift (hourly job)."""


from collections.abc import Iterator

import dagster as dg
from dagster_duckdb import DuckDBResource
from duckdb import DuckDBPyConnection

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.check_results import check_result
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.derive.checks import key_unique, raw_dates, reconcile, schema_drift, seeds_verified
from vectra_pipeline.derive.schema_manifest import check_manifest

RAW_TYPED = ("game_tick", "server_state", "player_action", "complete_game")
SEED_VERIFIED = dg.AssetCheckKey(dg.AssetKey("complete_game"), "seed_verified")
RECONCILIATION = dg.AssetCheckKey(dg.AssetKey("games"), "reconciliation")
KEY_UNIQUE = {t: dg.AssetCheckKey(dg.AssetKey(t), f"{t}_key_unique") for t in (*RAW_TYPED, "games")}


def _key_spec(table: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        KEY_UNIQUE[table].name, asset=table,
        description=f"No two {table} rows share a natural key (a row seen twice on the wire, or by two capture "
                    "sessions, is kept once), across all dates.")


def _key_results(context: dg.AssetCheckExecutionContext, con: DuckDBPyConnection, paths: DataPaths,
                 tables: tuple[str, ...]) -> Iterator[dg.AssetCheckResult]:
    for table in tables:
        key = KEY_UNIQUE[table]
        if key in context.selected_asset_check_keys:
            yield check_result(key_unique(con, paths, table), asset=table, check_name=key.name)


# Checks run as two steps, not one step each: a typed partition run was 9 steps, and each step costs
# its own events in the run's event log (the run's wall time went there, not to the checks). Every
# check is still its own check in the UI, selectable alone (can_subset).
@dg.multi_asset_check(
    name="typed_tables_checks",
    specs=[*[_key_spec(t) for t in RAW_TYPED],
           dg.AssetCheckSpec("seed_verified", asset="complete_game", blocking=True,
                             description="sha256(serverSeed) == serverSeedHash for every finished game "
                                         "(blocks `games`).")],
    can_subset=True,
)
def typed_tables_checks(context: dg.AssetCheckExecutionContext, data_root: DataRootResource,
                        duckdb: DuckDBResource) -> Iterator[dg.AssetCheckResult]:
    """Key uniqueness of the four tables derived from raw, and seed verification, in one step."""
    paths = data_root.paths()
    with duckdb.get_connection() as con:
        yield from _key_results(context, con, paths, RAW_TYPED)
        if SEED_VERIFIED in context.selected_asset_check_keys:
            yield check_result(seeds_verified(con, paths), asset="complete_game", check_name=SEED_VERIFIED.name)


@dg.multi_asset_check(
    name="games_checks",
    specs=[_key_spec("games"),
           dg.AssetCheckSpec("reconciliation", asset="games",
                             description="Every recent raw row is in a typed table, deliberately not typed, or a "
                                         "model failure.")],
    can_subset=True,
)
def games_checks(context: dg.AssetCheckExecutionContext, data_root: DataRootResource, duckdb: DuckDBResource
                 ) -> Iterator[dg.AssetCheckResult]:
    """Key uniqueness of games and the raw -> typed reconciliation, in one step."""
    paths = data_root.paths()
    with duckdb.get_connection() as con:
        yield from _key_results(context, con, paths, ("games",))
        if RECONCILIATION in context.selected_asset_check_keys:
            outcome = reconcile(con, paths, raw_dates(paths, data_root.check_window_days))
            yield check_result(outcome, asset="games", check_name=RECONCILIATION.name)


TYPED_CHECKS = [typed_tables_checks, games_checks]


@dg.asset_check(asset="ws_event", name="schema_manifest",
                description="manifests/schema_version.json exists, parses, has the code's version, and every "
                            "Parquet doc_type's fields match it.")
def schema_manifest_check(data_root: DataRootResource) -> dg.AssetCheckResult:
    return check_result(check_manifest(data_root.paths()))


@dg.asset_check(asset="ws_event", name="schema_drift",
                description="Payload fields present in recent raw data that no protocol model knows (warning).")
def schema_drift_check(data_root: DataRootResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    paths = data_root.paths()
    with duckdb.get_connection() as con:
        outcome = schema_drift(con, paths, raw_dates(paths, data_root.check_window_days))
    return check_result(outcome, dg.AssetCheckSeverity.WARN)


schema_checks_job = dg.define_asset_job(
    "schema_checks_job",
    selection=dg.AssetSelection.checks(schema_manifest_check, schema_drift_check),
    description="The landing zone's schema checks (manifest + drift), run hourly.",
)
schema_checks_hourly = dg.ScheduleDefinition(
    name="schema_checks_hourly", job=schema_checks_job, cron_schedule="0 * * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
