"""A data root for the service and explorer tests: the real fixtures captured (feed -> daemon -> raw) or
landed, every typed table derived with the same code the Dagster assets call, and optionally the events
vector table built with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_helpers import raw_dates, raw_paths

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.run import TABLES, derive_date

OWN_TABLES = tuple(t for t in TABLES if t != "games")


def derived_root(request: pytest.FixtureRequest, tmp_path: Path, index: bool = False) -> DataPaths:
    paths = raw_paths(request, tmp_path)
    dates = raw_dates(paths)
    for date in dates:  # games of D reads game_tick of D+1: every other table first
        derive_date(paths, date, OWN_TABLES)
    for date in dates:
        derive_date(paths, date, ("games",))
    if index:
        from vectra_pipeline.index.build import build

        build(paths, full=True, tables=("events",))
    return paths
