"""Frames still in the spool: Query.recent and the spool tail see each frame once while the spool is rolled
into Parquet (real spool segments written by the store's classes, real Parquet, DuckDB)."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from vectra_capture.store import write_records
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.raw_sink import compact_segment
from vectra_capture.store.spool import SpoolSegment, segment_path
from vectra_pipeline import duck
from vectra_pipeline.query import Query
from vectra_pipeline.service.recent import SpoolTail

SESSION = str(uuid.uuid4())


def rec(seq: int, name: str = "standard/newTrade") -> RawRecord:
    raw = json.dumps([name, {"__trace": True}, {"id": f"t{seq}", "price": 0.0074962956398157985}])
    return RawRecord("ws_event", time.time_ns() // 1000, seq, "public_ws", SESSION, raw.encode(), event_name=name,
                     game_id="20251207-00000000000000aa")


def spool(paths: DataPaths, number: int, records: list[RawRecord]) -> SpoolSegment:
    seg = SpoolSegment(segment_path(paths.spool, SESSION, number))
    for r in records:
        seg.append(r)
    seg.sync()
    return seg


def test_recent_sees_the_spool_and_the_parquet_once(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    records = [rec(i, "gameStateUpdate" if i % 2 else "standard/newTrade") for i in range(1, 11)]
    spool(paths, 1, records).close()
    write_records(paths, records[4:], SESSION)  # rolled meanwhile: half of them are in Parquet too
    q = Query(paths)
    frames = q.recent(60)
    assert [f["seq"] for f in frames] == list(range(1, 11))
    assert {f["origin"] for f in frames} == {"spool"}
    assert [f["seq"] for f in q.recent(60, "standard/newTrade")] == [2, 4, 6, 8, 10]
    assert "0.0074962956398157985" in frames[0]["preview"]  # the payload's text, digits as sent
    # the segment compacted (Parquet written, segment deleted): the same frames, now from Parquet
    compact_segment(paths, segment_path(paths.spool, SESSION, 1))
    again = q.recent(60)
    assert [f["seq"] for f in again] == list(range(1, 11)) and {f["origin"] for f in again} == {"parquet"}
    assert q.recent(0.000001) == []
    q.close()


def test_tail_follows_appends_rolls_and_partial_records(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    tail = SpoolTail(paths, duck.connect)
    assert tail.poll() == []
    seg1 = spool(paths, 1, [rec(1), rec(2), rec(3)])
    assert [f.seq for f in tail.poll()] == [1, 2, 3]
    assert tail.poll() == []
    for r in (rec(4), rec(5)):
        seg1.append(r)
    seg1.close()  # 4 and 5 reach the segment, then it is rolled before the tail reads them
    compact_segment(paths, seg1.path)
    seg2 = spool(paths, 2, [rec(6)])
    got = tail.poll()
    assert [(f.seq, f.origin) for f in got] == [(4, "parquet"), (5, "parquet"), (6, "spool")]
    # half a record (a flush cut it): nothing yet, then the whole record once it is complete
    whole = rec(7)
    seg2.append(whole)
    seg2.write_out()  # the buffered record reaches the file
    data = seg2.path.read_bytes()
    cut = len(data) - 10
    seg2.close()
    seg2.path.write_bytes(data[:cut])
    assert tail.poll() == []
    with open(seg2.path, "ab") as fh:
        fh.write(data[cut:])
    assert [f.seq for f in tail.poll()] == [7]
    frames = tail.frames(after=0)
    assert [f.seq for f in frames] == [1, 2, 3, 4, 5, 6, 7] and [f.n for f in frames] == list(range(1, 8))
    assert [f.seq for f in tail.frames(after=5)] == [6, 7]
    assert tail.latest("standard/newTrade").payload.endswith("0.0074962956398157985}")
