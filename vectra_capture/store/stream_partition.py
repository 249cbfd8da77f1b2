"""Streaming form of replace_partition: a derived partition written batch by batch, so a day of
typed rows (GBs of raw_json) never has to sit in memory as one table. Same contract: one file
`<doc_type>.parquet` per partition, appearing whole (temp name + fsync + rename) or not at all."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.paths import DataPaths
from vectra_capture.store.atomic import atomic_writer, remove_file


def replace_partition_batches(
    paths: DataPaths, doc_type: str, date: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
    compression: str = "zstd", row_group_size: int = 64_000,
) -> tuple[Path, int]:
    """Write `batches` (cast to `schema`) as the partition's only file. Returns (path, rows)."""
    path = paths.partition_dir(doc_type, date) / f"{doc_type}.parquet"
    rows = 0
    with atomic_writer(path) as fh, pq.ParquetWriter(fh, schema, compression=compression) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch.cast(schema) if batch.schema != schema else batch,
                                   row_group_size=row_group_size)
                rows += batch.num_rows
    for other in path.parent.glob("*.parquet"):
        if other != path:
            remove_file(other)
    return path, rows
