"""The landing zone's freshness: `raw_freshness` on ws_event fails when the capture daemon should be
running but no raw Parquet has landed for longer than the data root resource's
`raw_stale_after_minutes`. The landing sensor evaluates it every tick (a stat of a few files) and
reports it as a runless check evaluation; the check can also be run by hand from the UI."""

import time

import dagster as dg

from vectra_pipeline.defs.check_results import check_evaluation, check_result
from vectra_pipeline.defs.landing.resources import DataRootResource
from vectra_pipeline.derive.checks import raw_freshness
from vectra_pipeline.derive.schema_manifest import Outcome

FRESHNESS_CHECK = "raw_freshness"


def freshness_outcome(data_root: DataRootResource, now: float | None = None) -> Outcome:
    return raw_freshness(data_root.paths(), data_root.raw_stale_after_minutes * 60, now)


def freshness_evaluation(outcome: Outcome) -> dg.AssetCheckEvaluation:
    return check_evaluation("ws_event", FRESHNESS_CHECK, outcome)


@dg.asset_check(asset="ws_event", name=FRESHNESS_CHECK,
                description="While a capture daemon should be running (its lock is held, or it died leaving its "
                            "status file), raw ws_event Parquet landed within `raw_stale_after_minutes` (default "
                            "30) of the data_root resource. Passes, saying so, when no daemon is expected. "
                            "Evaluated by the landing sensor every minute.")
def raw_freshness_check(data_root: DataRootResource) -> dg.AssetCheckResult:
    return check_result(freshness_outcome(data_root, time.time()))
