"""Parquet partition files: events_parquet/doc_type=<t>/date=<YYYY-MM-DD>/<name>.parquet."""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.atomic import atomic_write_table, atomic_writer, remove_empty_dirs, remove_file
from vectra_capture.store.envelope import QUARANTINE, QUARANTINE_SCHEMA, RAW_SCHEMAS, RawRecord
from vectra_capture.store.layout import DataPaths, StorePath
from vectra_capture.store.remote_path import RemotePath

US_PER_DAY = 86_400_000_000  # microseconds in a UTC day: a ts_us's day number is ts_us // US_PER_DAY
_SURROGATE = re.compile("[\ud800-\udfff]")


def utc_date(ts_us: int) -> str:
    return _day_text(ts_us // US_PER_DAY)


@functools.lru_cache(maxsize=1024)
def _day_text(day: int) -> str:  # one strftime per day, not per record
    return datetime.fromtimestamp(day * 86_400, tz=UTC).strftime("%Y-%m-%d")


def clean_text(value: str | None) -> str | None:
    """A lone UTF-16 surrogate (half an emoji, `"\\ud83d"` in JSON) cannot be stored as UTF-8:
    it becomes U+FFFD. The verbatim frame in raw_json keeps the original escape."""
    if value is None:
        return None
    return _SURROGATE.sub("\ufffd", value)


def text_array(values: Sequence[str | None]) -> pa.Array:
    """A string column; values holding lone surrogates are cleaned (only then: it is rare)."""
    try:
        return pa.array(values, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return pa.array([clean_text(v) for v in values], type=pa.string())


def json_text_array(values: Sequence[str]) -> pa.Array:
    """A column of JSON texts (raw_json). A lone surrogate can only sit inside a JSON string value, so
    it is written back as its `\\uXXXX` escape: the text stays valid JSON that decodes to the same
    value (only when needed: it is rare)."""
    try:
        return pa.array(values, type=pa.string())
    except (UnicodeEncodeError, pa.ArrowInvalid):
        return pa.array([_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", v) for v in values], type=pa.string())


def _column(values: list, field: pa.Field) -> pa.Array:
    if field.name == "ts":
        return pa.array(values, type=pa.int64()).cast(field.type)
    if pa.types.is_string(field.type):
        return text_array(values)
    return pa.array(values, type=field.type)


def records_to_table(records: list[RawRecord], schema: pa.Schema) -> pa.Table:
    """Column-wise build of a table for one doc_type (raw bytes decoded as UTF-8 text)."""
    columns: dict[str, list] = {name: [] for name in schema.names}
    for rec in records:
        for name in schema.names:
            if name == "raw_json":
                columns[name].append(rec.raw.decode("utf-8", errors="replace"))
            elif name == "raw":
                columns[name].append(rec.raw)
            elif name == "ts":
                columns[name].append(rec.ts_us)
            elif name == "origin":
                columns[name].append(rec.origin_file or "")
            else:
                columns[name].append(getattr(rec, name))
    return pa.Table.from_arrays([_column(columns[f.name], f) for f in schema], schema=schema)


def group_by_partition(records: Iterable[RawRecord]) -> dict[tuple[str, str, str], list[RawRecord]]:
    """(doc_type, source, date) -> records, in arrival order."""
    groups: dict[tuple[str, str, str], list[RawRecord]] = defaultdict(list)
    for rec in records:
        groups[partition_key(rec)].append(rec)
    return groups


def partition_key(rec: RawRecord) -> tuple[str, str, str]:
    return rec.doc_type, rec.source, utc_date(rec.ts_us)


def records_path(paths: DataPaths, key: tuple[str, str, str], name_prefix: str, first_seq: int,
                 last_seq: int) -> tuple[Path, pa.Schema]:
    """Where a run of records of one (doc_type, source, date) lands, and its schema:
    `<prefix>_<first seq>-<last seq>.parquet`, so writing the same records again replaces the
    same file. Quarantine records go under quarantine/."""
    doc_type, source, date = key
    name = f"{name_prefix}_{first_seq:012d}-{last_seq:012d}.parquet"
    if doc_type == QUARANTINE:
        return quarantine_dir(paths, source, date) / name, QUARANTINE_SCHEMA
    return paths.partition_dir(doc_type, date) / name, RAW_SCHEMAS[doc_type]


def write_records(paths: DataPaths, records: list[RawRecord], name_prefix: str) -> list[Path]:
    """Land records as Parquet, one file per (doc_type, date), named deterministically
    (`records_path`) so writing the same records again replaces the same files."""
    written: list[Path] = []
    for key, group in sorted(group_by_partition(records).items()):
        path, schema = records_path(paths, key, name_prefix, group[0].seq, group[-1].seq)
        atomic_write_table(path, records_to_table(group, schema))
        written.append(path)
    return written


def quarantine_dir(paths: DataPaths, source: str, date: str) -> Path:
    # `<source>/`, not `source=<source>/`: a hive key would clash with the file's own source column.
    return paths.quarantine / source / f"date={date}"


def write_partition_file(paths: DataPaths, doc_type: str, date: str, name: str, table: pa.Table) -> Path:
    """Write (or atomically replace) one named file in a partition."""
    path = paths.partition_dir(doc_type, date) / name
    atomic_write_table(path, table)
    return path


def replace_partition(paths: DataPaths, doc_type: str, date: str, table: pa.Table) -> Path:
    """A derived partition is one file, `<doc_type>.parquet`; rename makes the swap atomic."""
    path = write_partition_file(paths, doc_type, date, f"{doc_type}.parquet", table)
    for other in path.parent.glob("*.parquet"):
        if other != path:
            remove_file(other)
    return path


def replace_file_set(paths: DataPaths, doc_type: str, name: str, tables_by_date: dict[str, pa.Table]) -> list[Path]:
    """Write `name` into each date's partition and delete `name` from dates no longer present,
    so re-importing a changed source replaces its old rows wherever they were."""
    written = [write_partition_file(paths, doc_type, d, name, t) for d, t in sorted(tables_by_date.items())]
    for stale in named_in_dates(paths.doc_type_dir(doc_type), name):
        if stale not in written:
            remove_file(stale)
    return written


def named_in_dates(top: StorePath, name: str) -> list[StorePath]:
    """The existing `top/date=*/<name>` files. Locally with os.scandir: an import asks once per source
    file, and pathlib's glob costs three times as much."""
    if isinstance(top, RemotePath):
        return list(top.glob(f"date=*/{name}"))
    try:
        with os.scandir(top) as entries:
            dates = [e.name for e in entries if e.name.startswith("date=") and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [top / d / name for d in sorted(dates) if os.path.exists(os.path.join(top, d, name))]


def delete_partition(paths: DataPaths, doc_type: str, date: str) -> int:
    part = paths.partition_dir(doc_type, date)
    removed = sum(remove_file(p) for p in part.glob("*.parquet"))
    remove_empty_dirs(part)
    return removed


UNIQUE_TEXT_COLUMNS = frozenset({"raw_json", "ack_json"})


# Streaming form of replace_partition: a day of typed rows (GBs of raw_json) never sits in memory
# as one table. Same contract: one file `<doc_type>.parquet` per partition, whole or not at all.
def replace_partition_batches(
    paths: DataPaths, doc_type: str, date: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
    compression: str = "zstd", row_group_size: int = 64_000,
) -> tuple[Path, int]:
    """Write `batches` (cast to `schema`) as the partition's only file. Returns (path, rows)."""
    path = paths.partition_dir(doc_type, date) / f"{doc_type}.parquet"
    rows = 0
    # JSON text columns hold a distinct value per row: a dictionary would be built per row group only
    # to be given up (seconds a day for game_tick's raw_json); every other column keeps one.
    dictionary = [n for n in schema.names if n not in UNIQUE_TEXT_COLUMNS]
    with atomic_writer(path) as fh, pq.ParquetWriter(fh, schema, compression=compression,
                                                     use_dictionary=dictionary) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch.cast(schema) if batch.schema != schema else batch,
                                   row_group_size=row_group_size)
                rows += batch.num_rows
    for other in path.parent.glob("*.parquet"):
        if other != path:
            remove_file(other)
    return path, rows
