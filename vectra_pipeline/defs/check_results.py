"""A plain check's Outcome (vectra_pipeline.derive.schema_manifest.Outcome: passed, summary, details)
as Dagster sees it: an AssetCheckResult inside a run, an AssetCheckEvaluation reported by a sensor."""

from typing import Any

import dagster as dg

from vectra_pipeline.derive.schema_manifest import Outcome


def check_metadata(details: dict[str, Any]) -> dict[str, Any]:
    """Scalars as they are, everything else (lists, dicts, None) as JSON."""
    return {k: v if isinstance(v, int | float | str | bool) else dg.MetadataValue.json(v) for k, v in details.items()}


def check_result(outcome: Outcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
                 asset: str | None = None, check_name: str | None = None) -> dg.AssetCheckResult:
    """`asset` and `check_name` say which check it is when one step evaluates several."""
    return dg.AssetCheckResult(passed=outcome.passed, severity=severity, description=outcome.summary,
                               metadata=check_metadata(outcome.details), asset_key=asset, check_name=check_name)


def check_evaluation(asset: str, check_name: str, outcome: Outcome,
                     severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(asset_key=dg.AssetKey(asset), check_name=check_name, passed=outcome.passed,
                                   severity=severity, description=outcome.summary,
                                   metadata=check_metadata(outcome.details))
