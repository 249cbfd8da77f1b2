"""Frames as they arrive: the capture spool read read-only (the store's reader), joined with the raw
Parquet, each frame once by (session_id, seq) however the spool is rolled into Parquet meanwhile.

`SpoolTail` follows the spool incrementally (new bytes only) for the live page and `vectra tail`;
`recent_frames` answers "the last N seconds" statelessly for `Query.recent`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import list_segments, read_new_records
from vectra_pipeline.duck import sql_list
from vectra_pipeline.service.json_text import payload_text, preview

FRAME_DOC_TYPES = ("ws_event", "system_event")  # what lands in events_parquet (quarantine lands elsewhere)
_ROW_COLUMNS = "ts, session_id, seq, source, doc_type, direction, event_name, game_id, raw_json"


class Frame(BaseModel):
    n: int | None = None  # position in this process's tail (the live page asks for frames after it)
    ts: datetime
    session_id: str
    seq: int
    source: str
    doc_type: str
    direction: str
    event_name: str | None = None
    game_id: str | None = None
    size: int
    origin: Literal["spool", "parquet"]
    preview: str
    payload: str | None = None  # the payload (last argument) as exact JSON text, when asked for
    reason: str | None = None  # why a quarantined frame was quarantined


def _frame(*, ts: datetime, session_id: str, seq: int, source: str, doc_type: str, direction: str,
           event_name: str | None, game_id: str | None, raw: str, origin: str, reason: str | None = None,
           with_payload: bool = False) -> Frame:
    body = raw if doc_type == QUARANTINE else payload_text(event_name, raw)
    return Frame(ts=ts, session_id=session_id, seq=seq, source=source, doc_type=doc_type, direction=direction,
                 event_name=event_name, game_id=game_id, size=len(raw), origin=origin,
                 preview=preview(body), payload=body if with_payload else None, reason=reason)


def frame_from_record(rec: RawRecord, with_payload: bool = False) -> Frame:
    return _frame(ts=datetime.fromtimestamp(rec.ts_us / 1e6, UTC), session_id=rec.session_id, seq=rec.seq,
                  source=rec.source, doc_type=rec.doc_type, direction=rec.direction, event_name=rec.event_name,
                  game_id=rec.game_id, raw=rec.raw.decode("utf-8", errors="replace"), origin="spool",
                  reason=rec.reason, with_payload=with_payload)


def _frame_from_row(row: tuple, with_payload: bool) -> Frame:
    ts, session_id, seq, source, doc_type, direction, event_name, game_id, raw = row
    return _frame(ts=ts, session_id=session_id, seq=seq, source=source, doc_type=doc_type, direction=direction,
                  event_name=event_name, game_id=game_id, raw=raw, origin="parquet", with_payload=with_payload)


def _recent_files(paths: DataPaths, since: datetime) -> list[Path]:
    """Raw Parquet files of the dates from `since` on (hive date partitions are UTC dates)."""
    first = since.strftime("%Y-%m-%d")
    out = []
    for doc_type in FRAME_DOC_TYPES:
        for part in sorted(paths.doc_type_dir(doc_type).glob("date=*")):
            if part.name.split("=", 1)[1] >= first:
                out += sorted(part.glob("*.parquet"))
    return out


def parquet_frames(paths: DataPaths, con: Any, where: str, params: list, since: datetime,
                   with_payload: bool = False) -> list[Frame]:
    files = _recent_files(paths, since)
    if not files:
        return []
    rows = con.execute(
        f"SELECT {_ROW_COLUMNS} FROM read_parquet({sql_list(files)}, union_by_name = true) "
        f"WHERE ts >= ? AND ({where}) ORDER BY ts, session_id, seq", [since, *params]).fetchall()
    return [_frame_from_row(r, with_payload) for r in rows]


def recent_frames(paths: DataPaths, con: Any, seconds: float, event_name: str | None = None,
                  with_payload: bool = False) -> list[Frame]:
    """ws_event and system_event frames of the last `seconds`, oldest first, each once. The spool is read
    before the Parquet: a segment rolled in between is either read from the spool or already in Parquet
    (compaction writes the Parquet before it deletes the segment)."""
    since = datetime.now(UTC) - timedelta(seconds=seconds)
    since_us = int(since.timestamp() * 1e6)
    found: dict[tuple[str, int], Frame] = {}
    for seg in list_segments(paths.spool):
        try:
            records, _ = read_new_records(seg, 0)
        except FileNotFoundError:  # rolled meanwhile: its rows are in Parquet now
            continue
        for rec in records:
            if rec.doc_type in FRAME_DOC_TYPES and rec.ts_us >= since_us and event_name in (None, rec.event_name):
                found[(rec.session_id, rec.seq)] = frame_from_record(rec, with_payload)
    where, params = ("event_name = ?", [event_name]) if event_name else ("true", [])
    for frame in parquet_frames(paths, con, where, params, since, with_payload):
        found.setdefault((frame.session_id, frame.seq), frame)
    return sorted(found.values(), key=lambda f: (f.ts, f.session_id, f.seq))


class SpoolTail:
    """Follows the spool of a data root, read-only: each poll reads only the bytes appended since the last
    one. A session's frames that were rolled into Parquet before this tail read them (a gap in its seq)
    are taken from the Parquet, so a frame is never missed nor shown twice. Keeps the last `keep` frames,
    numbered in arrival order (`n`) so a client can ask for what came after the last one it showed."""

    def __init__(self, paths: DataPaths, con_factory: Any, keep: int = 2000) -> None:
        self.paths = paths
        self._con_factory = con_factory  # a DuckDB connection for the rare Parquet fill
        self._offsets: dict[Path, int] = {}
        self._last_seq: dict[str, int] = {}
        self._frames: deque[Frame] = deque(maxlen=keep)
        self._latest: dict[str, RawRecord] = {}  # per event name, the newest record (for a live sample)
        self._n = 0
        self._lock = threading.Lock()
        self.polled_at: float | None = None

    def poll(self, with_payload: bool = False) -> list[Frame]:
        """Frames that arrived since the last poll, oldest first (kept without their payload text)."""
        with self._lock:
            segments = list_segments(self.paths.spool)
            by_session: dict[str, list[Path]] = {}
            for seg in segments:
                by_session.setdefault(seg.parent.name, []).append(seg)
            vanished = {p.parent.name for p in self._offsets if p not in set(segments)}
            new: list[Frame] = []
            for session in sorted(set(by_session) | vanished):
                records: list[RawRecord] = []
                for seg in by_session.get(session, []):
                    try:
                        got, self._offsets[seg] = read_new_records(seg, self._offsets.get(seg, 0))
                    except FileNotFoundError:
                        continue
                    records += got
                last = self._last_seq.get(session)
                if last is not None and (not records or records[0].seq > last + 1) and (
                        session in vanished or records):
                    upto = records[0].seq if records else None
                    new += self._fill(session, last, upto, with_payload)
                last = self._last_seq.get(session, -1)
                for rec in records:
                    if rec.seq > last:
                        new.append(frame_from_record(rec, with_payload))
                        last = rec.seq
                        if rec.event_name is not None:
                            self._latest[rec.event_name] = rec
                if last >= 0:
                    self._last_seq[session] = last
            for p in [p for p in self._offsets if p not in set(segments)]:
                del self._offsets[p]
            for frame in new:
                self._n += 1
                frame.n = self._n
                self._frames.append(frame.model_copy(update={"payload": None}) if with_payload else frame)
            self.polled_at = time.time()
            return new

    def _fill(self, session: str, after: int, before: int | None, with_payload: bool) -> list[Frame]:
        """Frames of `session` with after < seq < before from the raw Parquet (rolled before we read them)."""
        since = datetime.now(UTC) - timedelta(days=1)
        con = self._con_factory()
        try:
            frames = parquet_frames(self.paths, con, "session_id = ? AND seq > ? AND seq < ?",
                                    [session, after, before if before is not None else 2**62], since,
                                    with_payload)
        finally:
            con.close()
        if frames:
            self._last_seq[session] = frames[-1].seq
        return frames

    def frames(self, after: int = 0, event_name: str | None = None, limit: int = 200) -> list[Frame]:
        """The kept frames numbered after `after` (0: the latest `limit`), oldest first."""
        self.poll()
        with self._lock:
            picked = [f for f in self._frames if f.n > after and event_name in (None, f.event_name)]
        return picked[-limit:]

    def latest(self, event_name: str) -> Frame | None:
        """The newest frame of `event_name` this tail has read, with its payload."""
        with self._lock:
            rec = self._latest.get(event_name)
        return frame_from_record(rec, with_payload=True) if rec is not None else None

    @property
    def last_frame(self) -> Frame | None:
        with self._lock:
            return self._frames[-1] if self._frames else None


def follow(paths: DataPaths, tail: SpoolTail, con: Any, since_seconds: float = 10.0,
           event_name: str | None = None, interval: float = 0.25,
           stop: Any = None) -> Iterator[Frame]:
    """The frames of the last `since_seconds` (spool and Parquet), then every new frame as the spool
    grows, each once, until `stop()` is true. Frames carry their payload text."""
    seen: set[tuple[str, int]] = set()
    for frame in recent_frames(paths, con, since_seconds, event_name, with_payload=True):
        seen.add((frame.session_id, frame.seq))
        yield frame
    cutoff = datetime.now(UTC) - timedelta(seconds=since_seconds)
    first = True
    while stop is None or not stop():
        for frame in tail.poll(with_payload=True):
            if event_name not in (None, frame.event_name):
                continue
            if first and ((frame.session_id, frame.seq) in seen or frame.ts < cutoff):
                continue
            yield frame
        first = False
        seen.clear()
        time.sleep(interval)
