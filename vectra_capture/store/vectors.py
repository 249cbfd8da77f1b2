"""The LanceDB database under vectors/. Handed out here so all writes stay in the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vectra_capture.paths import DataPaths
from vectra_capture.store.atomic import ensure_dir

if TYPE_CHECKING:
    import lancedb


def connect_vectors(paths: DataPaths) -> lancedb.DBConnection:
    import lancedb  # lazy: keeps the Dagster code location light

    return lancedb.connect(str(ensure_dir(paths.vectors)))
