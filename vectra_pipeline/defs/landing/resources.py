"""The data root the pipeline reads and writes, resolved when a run starts (not at import time)."""

import dagster as dg

from vectra_capture.store.layout import DataPaths


class VectraData(dg.ConfigurableResource):
    """data_dir defaults to $RUGS_DATA_DIR read at run time; check_window_days bounds the raw scans
    of reconciliation and drift (the most recent raw dates)."""

    data_dir: str | None = None
    check_window_days: int = 3

    def paths(self) -> DataPaths:
        return DataPaths.resolve(self.data_dir)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"vectra_data": VectraData()})
