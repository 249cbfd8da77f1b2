"""The resources every pipeline asset and check uses: the data root (resolved when a run starts,
not at import time) and DuckDB (in memory, with the settings of vectra_pipeline/duck.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from vectra_capture.store.layout import DataPaths
from vectra_pipeline import duck


class DataRootResource(dg.ConfigurableResource):
    """data_dir defaults to $RUGS_DATA_DIR read at run time; check_window_days bounds the raw scans
    of reconciliation and drift (the most recent raw dates); raw_stale_after_minutes is how long the
    capture daemon may go without landing raw Parquet before the `raw_freshness` check fails (the
    daemon rolls its spool into Parquet every 15 minutes by default, so keep it above that)."""

    data_dir: str | None = None
    check_window_days: int = 3
    raw_stale_after_minutes: float = 30.0

    def paths(self) -> DataPaths:
        return DataPaths.resolve(self.data_dir)


class VectraDuckDBResource(DuckDBResource):
    """dagster-duckdb's resource, in memory, opened with duck.py's settings; each connection also
    gets the session settings DuckDB only accepts once open (the UTC time zone)."""

    database: str = ":memory:"
    connection_config: dict[str, Any] = Field(default_factory=duck.connection_config)

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            try:
                yield duck.apply_session_settings(con)
            finally:
                con.close()  # the parent closes only when the body succeeded


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"data_root": DataRootResource(), "duckdb": VectraDuckDBResource()})
