"""Asset checks next to their assets: key uniqueness per typed table, seed verification (blocking),
reconciliation raw -> typed, and on the landing zone schema manifest + schema drift (hourly job)."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from vectra_pipeline.defs.check_results import check_result
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.derive.checks import key_unique, raw_dates, reconcile, schema_drift, seeds_verified
from vectra_pipeline.derive.schema_manifest import check_manifest


def unique_key_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_key_unique",
                    description=f"No two {table} rows share a natural key (a row seen twice on the wire, "
                                "or by two capture sessions, is kept once), across all dates.")
    def _check(data_root: DataRootResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
        with duckdb.get_connection() as con:
            return check_result(key_unique(con, data_root.paths(), table))

    return _check


key_checks = [unique_key_check(t) for t in ("game_tick", "server_state", "player_action", "complete_game", "games")]


@dg.asset_check(asset="complete_game", name="seed_verified", blocking=True,
                description="sha256(serverSeed) == serverSeedHash for every finished game (blocks `games`).")
def seed_verified_check(data_root: DataRootResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as con:
        return check_result(seeds_verified(con, data_root.paths()))


@dg.asset_check(asset="games", name="reconciliation",
                description="Every recent raw row is in a typed table, deliberately not typed, or a model failure.")
def reconciliation_check(data_root: DataRootResource, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    paths = data_root.paths()
    with duckdb.get_connection() as con:
        return check_result(reconcile(con, paths, raw_dates(paths, data_root.check_window_days)))


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
