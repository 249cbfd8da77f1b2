"""The LanceDB database under vectors/: the only module that connects to it, so every table
create / add / merge / delete / optimize / index / drop happens inside this package.

lancedb is imported inside functions on purpose: it costs seconds and the Dagster code location
and `vectra status` must load without it.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from vectra_capture.store import ensure_dir
from vectra_capture.store.layout import DataPaths

if TYPE_CHECKING:
    import lancedb


def connect(paths: DataPaths) -> lancedb.DBConnection:
    import lancedb

    return lancedb.connect(str(ensure_dir(paths.vectors)))


def remove_table_folder(paths: DataPaths, name: str) -> bool:
    """Delete vectors/<name>.lance entirely (a table LanceDB can no longer open cannot be dropped
    through LanceDB itself); True if it existed."""
    folder = paths.vectors / f"{name}.lance"
    if not folder.exists():
        return False
    shutil.rmtree(folder)
    return True
