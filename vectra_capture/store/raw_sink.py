"""The capture daemon's durable sink: spool segments rolled into raw Parquet, exactly once.

Appends go to the open segment; `sync()` makes them durable. Every `roll_seconds` (or
`roll_bytes`) the segment is closed and compacted into Parquet files named by session and
seq range, then deleted. Compacting the same segment twice writes the same names, so a crash
between the Parquet rename and the segment delete cannot duplicate rows.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vectra_capture.store.atomic import remove_empty_dirs, remove_file, sweep_partials
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.partitions import write_records
from vectra_capture.store.root_context import refresh_root_context
from vectra_capture.store.spool import SpoolSegment, list_segments, read_segment, segment_path

log = logging.getLogger(__name__)

DEFAULT_ROLL_SECONDS = 900.0  # a few Parquet files per hour
DEFAULT_ROLL_BYTES = 256 << 20


@dataclass
class CompactResult:
    records: int = 0
    quarantined: int = 0
    files: int = 0


def compact_segment(paths: DataPaths, seg: Path) -> CompactResult:
    """Land one closed segment in Parquet (torn tail to quarantine), then delete it."""
    session_id = seg.parent.name
    contents = read_segment(seg)
    records = contents.records
    if contents.torn_tail:
        last = records[-1] if records else None
        records = [
            *records,
            RawRecord(
                QUARANTINE,
                last.ts_us if last else int(seg.stat().st_mtime * 1e6),
                (last.seq + 1) if last else 0,
                last.source if last else "unknown",
                session_id,
                contents.torn_tail,
                origin_file=f"spool/{session_id}/{seg.name}",
                reason=f"spool tail not a whole record: {contents.torn_reason}",
            ),
        ]
    try:
        files = write_records(paths, records, session_id) if records else []
    except Exception as exc:  # never let one bad segment block every later recovery
        log.exception("spool segment %s could not be written as rows: quarantining it whole", seg)
        files = write_records(paths, [_whole_segment(seg, session_id, records, exc)], session_id)
        remove_file(seg)
        return CompactResult(0, 1, len(files))
    remove_file(seg)
    n_quarantined = sum(r.doc_type == QUARANTINE for r in records)
    return CompactResult(len(records) - n_quarantined, n_quarantined, len(files))


def _whole_segment(seg: Path, session_id: str, records: list[RawRecord], exc: Exception) -> RawRecord:
    first = records[0] if records else None
    return RawRecord(
        QUARANTINE,
        first.ts_us if first else int(seg.stat().st_mtime * 1e6),
        first.seq if first else 0,
        first.source if first else "unknown",
        session_id,
        seg.read_bytes(),
        origin_file=f"spool/{session_id}/{seg.name}",
        reason=f"spool segment could not be written as rows ({type(exc).__name__}: {exc}); bytes kept whole",
    )


def recover_spool(paths: DataPaths, skip_session: str | None = None) -> CompactResult:
    """Compact every segment a previous (crashed) run left behind."""
    total = CompactResult()
    sweep_partials(paths.events_parquet)
    sweep_partials(paths.quarantine)
    for seg in list_segments(paths.spool):
        if seg.parent.name == skip_session:
            continue
        res = compact_segment(paths, seg)
        total.records += res.records
        total.quarantined += res.quarantined
        total.files += res.files
        log.info("recovered spool segment %s: %d records, %d quarantined", seg, res.records, res.quarantined)
    for session_dir in paths.spool.glob("*") if paths.spool.is_dir() else []:
        if session_dir.name != skip_session and session_dir.is_dir() and not any(session_dir.iterdir()):
            shutil.rmtree(session_dir, ignore_errors=True)
    return total


class RawSink:
    """Owned by one thread (the daemon's writer). Rolled segments are compacted on a helper
    thread, so fsyncs of new records never wait for Parquet encoding."""

    def __init__(
        self,
        paths: DataPaths,
        session_id: str,
        roll_seconds: float = DEFAULT_ROLL_SECONDS,
        roll_bytes: int = DEFAULT_ROLL_BYTES,
    ) -> None:
        self.paths = paths
        self.session_id = session_id
        refresh_root_context(paths)  # first use of a root: it explains itself from now on
        self.roll_seconds = roll_seconds
        self.roll_bytes = roll_bytes
        self._number = 0
        self._segment: SpoolSegment | None = None
        self._opened_at = time.monotonic()
        self.synced = 0  # records durable on disk (spool or Parquet)
        self.in_parquet = 0  # records rolled into Parquet files
        self.quarantined = 0
        self.pending = 0  # appended but not yet fsynced
        self.last_sync: float | None = None  # wall-clock time of the last fsync
        self.last_roll: float | None = None
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vectra-compact")
        self._compacting: list[Future[CompactResult]] = []

    @property
    def spool_depth(self) -> int:
        return self._segment.records if self._segment else 0

    def append(self, rec: RawRecord) -> None:
        if self._segment is None:
            self._number += 1
            self._segment = SpoolSegment(segment_path(self.paths.spool, self.session_id, self._number))
            self._opened_at = time.monotonic()
        self._segment.append(rec)
        self.pending += 1

    def sync(self) -> None:
        if self._segment is not None and self.pending:
            self._segment.sync()
            self.synced += self.pending
            self.pending = 0
            self.last_sync = time.time()

    def roll_due(self) -> bool:
        seg = self._segment
        return seg is not None and (
            seg.bytes >= self.roll_bytes or time.monotonic() - self._opened_at >= self.roll_seconds
        )

    def roll(self) -> None:
        """Close the open segment (durably) and hand it to the compactor; the next append opens
        a fresh segment at once."""
        if self._segment is None:
            return
        self.sync()
        seg = self._segment
        seg.close()
        self._segment = None
        future = self._compactor.submit(compact_segment, self.paths, seg.path)
        future.add_done_callback(self._compacted)
        self._compacting = [f for f in self._compacting if not f.done()] + [future]

    def _compacted(self, future: Future[CompactResult]) -> None:
        if future.exception() is not None:  # the segment stays in the spool for the next recovery
            log.error("compacting a spool segment failed: %s", future.exception())
            return
        res = future.result()
        self.in_parquet += res.records
        self.quarantined += res.quarantined
        self.last_roll = time.time()

    @property
    def compacting(self) -> int:
        return sum(not f.done() for f in self._compacting)

    def close(self) -> None:
        """Roll what is left and wait until every segment is in Parquet."""
        self.roll()
        self._compactor.shutdown(wait=True)
        remove_empty_dirs(self.paths.spool / self.session_id)  # a segment that failed stays for recovery
