"""Asset checks next to their assets: key uniqueness per typed table, seed verification (blocking),
reconciliation raw -> typed, and on the landing zone schema manifest + schema drift (hourly job)."""


import dagster as dg

from vectra_pipeline.defs.landing.resources import VectraData
from vectra_pipeline.derive.checks import key_unique, raw_dates, reconcile, schema_drift, seeds_verified
from vectra_pipeline.derive.schema_manifest import check_manifest


def _result(outcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.summary,
        metadata={k: v if isinstance(v, int | float | str | bool) else dg.MetadataValue.json(v)
                  for k, v in outcome.details.items()},
    )


def unique_key_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name=f"{table}_key_unique",
                    description=f"No two {table} rows share a natural key (PROTOCOL.md Duplicates), across all dates.")
    def _check(vectra_data: VectraData) -> dg.AssetCheckResult:
        return _result(key_unique(vectra_data.paths(), table))

    return _check


key_checks = [unique_key_check(t) for t in ("game_tick", "server_state", "player_action", "complete_game", "games")]


@dg.asset_check(asset="complete_game", name="seed_verified", blocking=True,
                description="sha256(serverSeed) == serverSeedHash for every finished game (blocks `games`).")
def seed_verified_check(vectra_data: VectraData) -> dg.AssetCheckResult:
    return _result(seeds_verified(vectra_data.paths()))


@dg.asset_check(asset="games", name="reconciliation",
                description="Every recent raw row is in a typed table, deliberately not typed, or a model failure.")
def reconciliation_check(vectra_data: VectraData) -> dg.AssetCheckResult:
    paths = vectra_data.paths()
    return _result(reconcile(paths, raw_dates(paths, vectra_data.check_window_days)))


@dg.asset_check(asset="ws_event", name="schema_manifest",
                description="manifests/schema_version.json exists, parses, has the code's version, and every "
                            "Parquet doc_type's fields match it.")
def schema_manifest_check(vectra_data: VectraData) -> dg.AssetCheckResult:
    return _result(check_manifest(vectra_data.paths()))


@dg.asset_check(asset="ws_event", name="schema_drift",
                description="Payload fields present in recent raw data that no protocol model knows (warning).")
def schema_drift_check(vectra_data: VectraData) -> dg.AssetCheckResult:
    paths = vectra_data.paths()
    return _result(schema_drift(paths, raw_dates(paths, vectra_data.check_window_days)), dg.AssetCheckSeverity.WARN)


schema_checks_job = dg.define_asset_job(
    "schema_checks_job",
    selection=dg.AssetSelection.checks(schema_manifest_check, schema_drift_check),
    description="The landing zone's schema checks (manifest + drift), run hourly.",
)
schema_checks_hourly = dg.ScheduleDefinition(
    name="schema_checks_hourly", job=schema_checks_job, cron_schedule="0 * * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
