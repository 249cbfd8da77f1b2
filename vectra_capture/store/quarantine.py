"""Named quarantine file sets: quarantine/<source>/date=<d>/<name>.parquet, replaced as a set.

The quarantine twin of partitions.replace_file_set: an importer that owns one name per source file
(the legacy import) rewrites that name in every date it now touches and deletes it from dates it no
longer touches, so re-importing a changed file never leaves stale quarantine rows behind.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from vectra_capture.store.atomic import atomic_write_table, remove_file
from vectra_capture.store.envelope import QUARANTINE_SCHEMA
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.partitions import named_in_dates, quarantine_dir


def replace_quarantine_file_set(
    paths: DataPaths, source: str, name: str, tables_by_date: dict[str, pa.Table]
) -> list[Path]:
    """Write `name` under each date of quarantine/<source>/, delete it from other dates."""
    written: list[Path] = []
    for date, table in sorted(tables_by_date.items()):
        path = quarantine_dir(paths, source, date) / name
        atomic_write_table(path, table.cast(QUARANTINE_SCHEMA))
        written.append(path)
    for stale in named_in_dates(paths.quarantine / source, name):
        if stale not in written:
            remove_file(stale)
    return written
