"""What the data root holds: rows, files and bytes per doc_type with its first and last UTC day (row
counts from Parquet footers, remembered per file), the spool, the vector tables, plus the live status."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from pydantic import BaseModel

from vectra_capture.store.remote_path import arrow_source
from vectra_capture.store.spool import list_segments
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.live import LiveStatus, live


class Holding(BaseModel):
    doc_type: str
    files: int
    rows: int
    bytes: int
    first_day: str | None
    last_day: str | None


class Overview(BaseModel):
    data_dir: str
    live: LiveStatus
    holdings: list[Holding]
    spool_segments: int
    spool_bytes: int
    vector_tables: list[str]


def _footer_rows(files: list[Path]) -> dict[Path, int]:
    return {f: pq.ParquetFile(arrow_source(f)).metadata.num_rows for f in files}


def holdings(ctx: Context) -> list[Holding]:
    by_type = {d.name.split("=", 1)[1]: sorted(d.glob("date=*/*.parquet"))
               for d in sorted(ctx.paths.events_parquet.glob("doc_type=*"))}
    # one call over every file: the memo forgets the files it is not asked about
    rows = ctx.footers.results([f for fs in by_type.values() for f in fs], _footer_rows)
    out = []
    for doc_type, files in by_type.items():
        if not files:
            continue
        days = sorted({f.parent.name.split("=", 1)[1] for f in files})
        out.append(Holding(doc_type=doc_type, files=len(files), rows=sum(rows.get(f, 0) for f in files),
                           bytes=_total_size(files), first_day=days[0], last_day=days[-1]))
    return out


def _total_size(files: list[Path]) -> int:
    """Bytes of the files that still exist (a spool segment or a partition file can be rolled or
    replaced between listing and stat)."""
    size = 0
    for f in files:
        try:
            size += f.stat().st_size
        except FileNotFoundError:
            continue
    return size


def overview(ctx: Context) -> Overview:
    segments = list_segments(ctx.paths.spool)
    spool_bytes = _total_size(segments)
    tables = sorted(p.name.removesuffix(".lance") for p in ctx.paths.vectors.glob("*.lance")) \
        if ctx.paths.vectors.is_dir() else []
    return Overview(data_dir=str(ctx.paths.root), live=live(ctx), holdings=holdings(ctx),
                    spool_segments=len(segments), spool_bytes=spool_bytes, vector_tables=tables)
