"""The capture daemon's durable sink: spool segments rolled into raw Parquet, exactly once.

Appends go to the open segment's buffer; `sync()` makes them durable. Every `roll_seconds` (or
`roll_bytes`) the segment is closed and compacted into Parquet files named by session and
seq range, then deleted. Compacting the same segment twice writes the same names, so a crash
between the Parquet rename and the segment delete cannot duplicate rows.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.store.atomic import atomic_writer, remove_empty_dirs, remove_file, sweep_partials
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.partitions import (
    group_by_partition,
    partition_key,
    records_path,
    records_to_table,
    write_records,
)
from vectra_capture.store.root_context import refresh_root_context
from vectra_capture.store.spool import SegmentReader, SpoolSegment, list_segments, segment_path

log = logging.getLogger(__name__)

DEFAULT_ROLL_SECONDS = 900.0  # a few Parquet files per hour
DEFAULT_ROLL_BYTES = 256 << 20
COMPACT_BATCH_BYTES = 8 << 20  # payload bytes per row-group write when compacting: bounds memory


@dataclass
class CompactResult:
    records: int = 0
    quarantined: int = 0
    files: int = 0
    segments: int = 0
    complete: bool = True  # False when stopped between batches (the segment stays in the spool)

    def add(self, other: CompactResult) -> None:
        self.records += other.records
        self.quarantined += other.quarantined
        self.files += other.files
        self.segments += other.segments
        self.complete = self.complete and other.complete


def compact_segment(paths: DataPaths, seg: Path, batch_bytes: int = COMPACT_BATCH_BYTES,
                    should_stop: Callable[[], bool] | None = None) -> CompactResult:
    """Land one closed segment in Parquet (torn tail to quarantine), then delete it.

    Two streamed passes, so memory follows a batch of about `batch_bytes` of payload, never the
    segment: the first finds each partition's seq range (hence its deterministic file name), the
    second writes each partition's file row group by row group. Compacting the same segment again
    (after a crash, a full disk or `should_stop`) writes the same files: rows land once.
    An OSError (full disk, read-only) propagates and leaves the segment for a retry; rows that
    cannot be built quarantine the segment's bytes whole instead of blocking every later recovery."""
    session_id = seg.parent.name
    ranges: dict[tuple[str, str, str], tuple[int, int]] = {}
    for rec in _records_of(seg, session_id):
        key = partition_key(rec)
        first = ranges.get(key, (rec.seq, rec.seq))[0]
        ranges[key] = (first, rec.seq)
    try:
        result = _write_segment(paths, seg, session_id, ranges, batch_bytes, should_stop)
    except OSError:
        raise  # the storage, not the rows: the segment stays and is compacted again later
    except _Stopped:
        return CompactResult(segments=1, complete=False)
    except Exception as exc:
        log.exception("spool segment %s could not be written as rows: quarantining it whole", seg)
        files = write_records(paths, [_whole_segment(seg, session_id, exc)], session_id)
        result = CompactResult(0, 1, len(files), 1)
    remove_file(seg)
    return result


class _Stopped(Exception):
    pass


def _records_of(seg: Path, session_id: str) -> Iterator[RawRecord]:
    """The segment's whole records, then its torn tail (if any) as one quarantine record."""
    reader = SegmentReader(seg)
    last: RawRecord | None = None
    for rec in reader:
        last = rec
        yield rec
    if reader.torn_tail:
        yield RawRecord(
            QUARANTINE,
            last.ts_us if last else int(seg.stat().st_mtime * 1e6),
            (last.seq + 1) if last else 0,
            last.source if last else "unknown",
            session_id,
            reader.torn_tail,
            origin_file=f"spool/{session_id}/{seg.name}",
            reason=f"spool tail not a whole record: {reader.torn_reason}",
        )


def _write_segment(paths: DataPaths, seg: Path, session_id: str, ranges: dict[tuple[str, str, str], tuple[int, int]],
                   batch_bytes: int, should_stop: Callable[[], bool] | None) -> CompactResult:
    result = CompactResult(segments=1)
    with contextlib.ExitStack() as files:  # an exception discards every file of this segment
        writers: dict[tuple[str, str, str], tuple[pq.ParquetWriter, pa.Schema]] = {}

        def flush(batch: list[RawRecord]) -> None:
            for key, group in group_by_partition(batch).items():
                if key not in writers:
                    path, schema = records_path(paths, key, session_id, *ranges[key])
                    fh = files.enter_context(atomic_writer(path))
                    writers[key] = (files.enter_context(pq.ParquetWriter(fh, schema, compression="zstd")), schema)
                writer, schema = writers[key]
                writer.write_table(records_to_table(group, schema))
                n_quarantined = len(group) if key[0] == QUARANTINE else 0
                result.records += len(group) - n_quarantined
                result.quarantined += n_quarantined

        batch: list[RawRecord] = []
        size = 0
        for rec in _records_of(seg, session_id):
            batch.append(rec)
            size += len(rec.raw)
            if size >= batch_bytes:
                flush(batch)
                batch, size = [], 0
                if should_stop is not None and should_stop():
                    raise _Stopped
        if batch:
            flush(batch)
        result.files = len(writers)
    return result


def _whole_segment(seg: Path, session_id: str, exc: Exception) -> RawRecord:
    first = next(iter(SegmentReader(seg)), None)
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


def sweep_startup(paths: DataPaths) -> int:
    """Temp files of writers killed mid-write: Parquet, quarantine, manifests and run/ (the status file),
    and on an object root the uploads staged locally."""
    tops = (paths.events_parquet, paths.quarantine, paths.manifests, paths.run, paths.root / "upload")
    return sum(sweep_partials(top) for top in tops)


def recover_spool(paths: DataPaths, skip_session: str | None = None,
                  should_stop: Callable[[], bool] | None = None) -> CompactResult:
    """Compact every segment a previous (crashed) run left behind. Stops between batches when
    `should_stop()` says so (what is left stays in the spool for the next start)."""
    total = CompactResult()
    sweep_startup(paths)
    for seg in list_segments(paths.spool):
        if seg.parent.name == skip_session:
            continue
        if should_stop is not None and should_stop():
            total.complete = False
            break
        res = compact_segment(paths, seg, should_stop=should_stop)
        total.add(res)
        log.info("recovered spool segment %s: %d records, %d quarantined", seg, res.records, res.quarantined)
        if not res.complete:
            break
    for session_dir in paths.spool.glob("*") if paths.spool.is_dir() else []:
        if session_dir.name != skip_session and session_dir.is_dir() and not any(session_dir.iterdir()):
            shutil.rmtree(session_dir, ignore_errors=True)
    return total


class RawSink:
    """Owned by one thread (the daemon's writer). Rolled segments are compacted on a helper
    thread, so fsyncs of new records never wait for Parquet encoding.

    `append` never touches the disk (records wait in the open segment's buffer); `write_out` and
    `sync` do, and raise OSError on a full disk with nothing lost: call them again later. A roll
    whose compaction fails is counted (`roll_failures`, `last_roll_error`), its segment kept and
    retried by `retry_failed_rolls`."""

    def __init__(
        self,
        paths: DataPaths,
        session_id: str,
        roll_seconds: float = DEFAULT_ROLL_SECONDS,
        roll_bytes: int = DEFAULT_ROLL_BYTES,
        compact_batch_bytes: int = COMPACT_BATCH_BYTES,
    ) -> None:
        self.paths = paths
        self.session_id = session_id
        refresh_root_context(paths)  # first use of a root: it explains itself from now on
        self.roll_seconds = roll_seconds
        self.roll_bytes = roll_bytes
        self.compact_batch_bytes = compact_batch_bytes
        self._number = 0
        self._segment: SpoolSegment | None = None
        self._opened_at = time.monotonic()
        self.synced = 0  # records durable on disk (spool or Parquet)
        self.in_parquet = 0  # records rolled into Parquet files
        self.quarantined = 0
        self.pending = 0  # appended but not yet fsynced
        self.last_sync: float | None = None  # wall-clock time of the last fsync
        self.last_roll: float | None = None
        self.roll_failures = 0
        self.last_roll_error: str | None = None
        self._lock = threading.Lock()  # the compactor's callbacks run on its thread
        self._failed: list[Path] = []  # rolled segments whose compaction failed, to retry
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vectra-compact")
        self._compacting: list[Future[CompactResult]] = []

    @property
    def spool_depth(self) -> int:
        return self._segment.records if self._segment else 0

    @property
    def buffered_bytes(self) -> int:
        """Bytes held in memory (appended, not yet fully written to the spool)."""
        return self._segment.buffered if self._segment else 0

    @property
    def unwritten(self) -> int:
        return self._segment.unwritten if self._segment else 0

    @property
    def rolls_waiting(self) -> int:
        """Rolled segments whose compaction failed and waits for a retry."""
        with self._lock:
            return len(self._failed)

    def append(self, rec: RawRecord) -> int:
        """Buffer one record (no I/O); returns its encoded size."""
        if self._segment is None:
            self._number += 1
            self._segment = SpoolSegment(segment_path(self.paths.spool, self.session_id, self._number))
            self._opened_at = time.monotonic()
        self.pending += 1
        return self._segment.append(rec)

    def write_out(self) -> None:
        """Hand buffered bytes to the kernel without fsync (keeps the buffer small between syncs)."""
        if self._segment is not None:
            self._segment.write_out()

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
        a fresh segment at once. Raises OSError (changing nothing) when the sync fails."""
        if self._segment is None:
            return
        self.sync()
        seg = self._segment
        seg.close()
        self._segment = None
        self._submit(seg.path)

    def _submit(self, path: Path) -> None:
        future = self._compactor.submit(compact_segment, self.paths, path, self.compact_batch_bytes)
        future.add_done_callback(lambda f: self._compacted(f, path))
        self._compacting = [f for f in self._compacting if not f.done()] + [future]

    def _compacted(self, future: Future[CompactResult], path: Path) -> None:
        exc = future.exception()
        if exc is not None:  # the segment stays in the spool: retried, or recovered on the next start
            with self._lock:
                self.roll_failures += 1
                self.last_roll_error = f"{path.name}: {type(exc).__name__}: {exc}"
                self._failed.append(path)
            log.error("compacting spool segment %s failed (it stays in the spool and is retried): %s", path, exc)
            return
        res = future.result()
        self.in_parquet += res.records
        self.quarantined += res.quarantined
        self.last_roll = time.time()

    def retry_failed_rolls(self) -> int:
        """Compact again the rolled segments whose compaction failed; returns how many were resubmitted."""
        with self._lock:
            failed, self._failed = self._failed, []
        for path in failed:
            if path.exists():
                self._submit(path)
        return len(failed)

    @property
    def compacting(self) -> int:
        return sum(not f.done() for f in self._compacting)

    def close(self) -> None:
        """Roll what is left and wait until every segment is in Parquet (or, if compaction keeps
        failing, left in the spool for the next start's recovery). Raises OSError when the last
        sync fails (the records are still buffered: call close again)."""
        self.roll()
        self.retry_failed_rolls()
        self._compactor.shutdown(wait=True)
        if self.rolls_waiting:
            log.error("%d spool segments could not be compacted (%s): they stay in the spool and are "
                      "recovered on the next start", self.rolls_waiting, self.last_roll_error)
        remove_empty_dirs(self.paths.spool / self.session_id)  # a segment that failed stays for recovery

    def abandon(self) -> int:
        """Stop without the final sync (the disk stayed full): wait for running compactions and
        return how many appended records never became durable."""
        self._compactor.shutdown(wait=True)
        return self.pending
