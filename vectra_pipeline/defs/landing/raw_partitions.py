"""What the landing sensor knows about the raw partitions: a cheap listing digest per
(doc_type, date) to tell what changed, the details of a changed partition (files, rows, bytes, last
`ts`, read from Parquet footers only), and the runless asset events that show it in the UI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from vectra_capture.store.fingerprints import listing_digest
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.remote_path import arrow_source

RAW_DOC_TYPES = ("ws_event", "system_event")
# Dagster's data version tag (what an observable source asset writes); not exported by dagster.
DATA_VERSION_TAG = "dagster/data_version"


def partition_files(paths: DataPaths, doc_type: str) -> dict[str, list[Path]]:
    """date -> the Parquet files of that raw partition (partitions without files left out)."""
    out: dict[str, list[Path]] = {}
    for part in sorted(paths.doc_type_dir(doc_type).glob("date=*")):
        files = sorted(part.glob("*.parquet"))
        if files:
            out[part.name.split("=", 1)[1]] = files
    return out


def digests(paths: DataPaths) -> dict[str, dict[str, tuple[str, list[Path]]]]:
    """doc_type -> date -> (listing digest, files). A partition whose files change while it is
    listed is left out: the next tick sees it settled."""
    out: dict[str, dict[str, tuple[str, list[Path]]]] = {}
    for doc_type in RAW_DOC_TYPES:
        for date, files in partition_files(paths, doc_type).items():
            try:
                out.setdefault(doc_type, {})[date] = (listing_digest(files), files)
            except FileNotFoundError:
                continue
    return out


@dataclass(frozen=True)
class PartitionSummary:
    files: int
    rows: int
    bytes: int
    last_ts: str | None


def summarize(files: list[Path]) -> PartitionSummary:
    """Files, rows, bytes and the newest `ts` of a partition, from the Parquet footers (no data read)."""
    rows = size = 0
    last: datetime | None = None
    for f in files:
        size += f.stat().st_size
        meta = pq.ParquetFile(arrow_source(f)).metadata
        rows += meta.num_rows
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if "ts" not in names:
            continue
        col = names.index("ts")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(col).statistics
            if stats is not None and stats.has_min_max and (last is None or stats.max > last):
                last = stats.max
    return PartitionSummary(len(files), rows, size, last.isoformat() if last else None)


def partition_events(doc_type: str, date: str, digest: str, summary: PartitionSummary
                     ) -> list[dg.AssetObservation | dg.AssetMaterialization]:
    """An observation, then a materialization, of one raw partition, both tagged with its digest as
    the data version. Two events because Dagster reads them for two different things:
    - the materialization makes the partition show as materialized (present) in the UI, with files,
      rows, bytes and last ts;
    - staleness of the typed partitions downstream compares the data versions of *observations* of an
      external asset (CachingStaleStatusResolver asks for observations when the upstream is external),
      so the observation is what turns `game_tick` D (and D+1, which reads D's tail) stale when D's
      raw files change.
    The observation goes first: a typed run records the storage id of the upstream's latest
    materialization as its input cursor, so the observation of the same report lies before it and
    does not count as "newer" than the run that consumed it."""
    metadata = {**{k: v for k, v in asdict(summary).items() if k != "rows"},
                "dagster/row_count": summary.rows, "digest": digest}
    if summary.last_ts is None:
        metadata.pop("last_ts")
    tags = {DATA_VERSION_TAG: digest}
    return [dg.AssetObservation(asset_key=doc_type, partition=date, metadata=metadata, tags=tags),
            dg.AssetMaterialization(asset_key=doc_type, partition=date, metadata=metadata, tags=tags)]
