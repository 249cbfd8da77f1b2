"""Where the legacy import reads from and writes to, resolved when a run starts (not at import time)."""


from pathlib import Path

import dagster as dg

from vectra_capture.store.layout import DataPaths, default_legacy_dir


class LegacyImportResource(dg.ConfigurableResource):
    """legacy_dir / data_dir default to $RUGS_LEGACY_DIR / $RUGS_DATA_DIR read at run time."""

    legacy_dir: str | None = None
    data_dir: str | None = None

    def legacy_root(self) -> Path:
        return Path(self.legacy_dir).expanduser().resolve() if self.legacy_dir else default_legacy_dir().resolve()

    def data_paths(self) -> DataPaths:
        return DataPaths.resolve(self.data_dir)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"legacy_import": LegacyImportResource()})
