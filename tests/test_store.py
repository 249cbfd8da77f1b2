"""The store: atomic files, the spool's framing and torn tails, exactly-once compaction."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from vectra_capture.store import RawSink, atomic, atomic_writer, folder_syncs_deferred, recover_spool
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import SpoolSegment, read_segment, segment_path

DAY_US = 86_400_000_000
TS = 1_765_065_600_000_000  # 2025-12-07T00:00:00Z


def rec(seq: int, ts_us: int = TS, doc_type: str = "ws_event", raw: bytes | None = None) -> RawRecord:
    return RawRecord(doc_type, ts_us, seq, "public_ws", "sess", raw or f'["e",{{"n":{seq}}}]'.encode(),
                     event_name="e" if doc_type == "ws_event" else "connect")


def test_atomic_writer_leaves_nothing_on_error(tmp_path) -> None:
    target = tmp_path / "a" / "file.json"
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write(b"half")
        raise RuntimeError("boom")
    assert not target.exists() and os.listdir(target.parent) == []
    with atomic_writer(target) as fh:
        fh.write(b"whole")
    assert target.read_bytes() == b"whole" and os.listdir(target.parent) == ["file.json"]


def test_deferred_folder_syncs_happen_once_per_folder_at_sync(tmp_path, monkeypatch) -> None:
    """Inside folder_syncs_deferred a file appears whole at once, but its folder is fsynced only when
    sync() is called (once per folder however many files), and the rest at the end of the block."""
    synced: list[str] = []
    real = atomic._fsync_dir_now
    monkeypatch.setattr(atomic, "_fsync_dir_now", lambda p: (synced.append(os.fspath(p)), real(p)))
    a, b = tmp_path / "a", tmp_path / "b"
    with folder_syncs_deferred() as sync:
        for i in range(3):
            atomic.atomic_write_bytes(a / f"{i}.bin", b"x" * i)
        assert (a / "2.bin").read_bytes() == b"xx" and synced == []
        sync()
        assert synced == [str(a)]
        atomic.atomic_write_bytes(b / "0.bin", b"y")
        atomic.remove_file(a / "0.bin")
        assert synced == [str(a)]
    assert sorted(synced[1:]) == [str(a), str(b)]
    atomic.atomic_write_bytes(b / "1.bin", b"z")  # outside the block: synced right away
    assert synced[-1] == str(b) and len(synced) == 4


def test_spool_round_trip_and_torn_tail(tmp_path) -> None:
    path = segment_path(tmp_path, "sess", 1)
    seg = SpoolSegment(path)
    records = [rec(i, raw=b'["x","line\\nbreak and \\u00e9 \xc3\xa9"]') for i in range(1, 4)]
    for r in records:
        seg.append(r)
    seg.close()
    whole = path.read_bytes()
    assert read_segment(path).records == records and read_segment(path).torn_tail == b""
    path.write_bytes(whole[:-7])  # kill -9 mid-write
    cut = read_segment(path)
    assert cut.records == records[:2] and cut.torn_tail and "cut short" in cut.torn_reason
    flipped = bytearray(whole)
    flipped[-3] ^= 0xFF
    path.write_bytes(bytes(flipped))
    assert "checksum" in read_segment(path).torn_reason


def test_roll_splits_by_utc_date_and_compaction_is_exactly_once(tmp_path) -> None:
    paths = DataPaths(tmp_path)
    sink = RawSink(paths, "sess")
    for i in range(1, 6):
        sink.append(rec(i, TS - 2_000_000 + i * 1_000_000))  # crosses midnight UTC
    sink.append(rec(6, TS + 10, doc_type="system_event", raw=b"{}"))
    sink.sync()
    seg = sink._segment.path
    seg_bytes = seg.read_bytes()
    sink.close()
    assert sink.in_parquet == 6 and not seg.exists()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert files == [
        "events_parquet/doc_type=system_event/date=2025-12-07/sess_000000000006-000000000006.parquet",
        "events_parquet/doc_type=ws_event/date=2025-12-06/sess_000000000001-000000000001.parquet",
        "events_parquet/doc_type=ws_event/date=2025-12-07/sess_000000000002-000000000005.parquet",
    ]
    # A crash after the Parquet rename but before the segment delete: recovery rewrites the
    # same names, so nothing is duplicated.
    seg.parent.mkdir(parents=True, exist_ok=True)
    seg.write_bytes(seg_bytes + b"@{torn")
    recovered = recover_spool(paths)
    assert recovered.records == 6 and recovered.quarantined == 1
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.glob("events_parquet/**/*.parquet")) == files
    total = sum(pq.read_table(tmp_path / f).num_rows for f in files)
    assert total == 6
    q = pq.read_table(next(tmp_path.glob("quarantine/**/*.parquet"))).to_pylist()
    assert q[0]["raw"] == b"@{torn" and "not a whole record" in q[0]["reason"]
    assert not list(tmp_path.glob("spool/*"))


def test_quarantine_records_keep_bytes_and_reason(tmp_path) -> None:
    paths = DataPaths(tmp_path)
    sink = RawSink(paths, "sess")
    bad = RawRecord(QUARANTINE, TS, 1, "public_ws", "sess", b"\xff\x00garbage", origin_file="socket:received",
                    reason="not a text frame (bytes)")
    sink.append(bad)
    sink.close()
    assert sink.quarantined == 1
    row = pq.read_table(next(tmp_path.glob("quarantine/public_ws/date=2025-12-07/*.parquet"))).to_pylist()[0]
    assert row["raw"] == b"\xff\x00garbage" and row["reason"] == "not a text frame (bytes)"
    assert row["origin"] == "socket:received"


def test_a_segment_that_cannot_become_rows_is_quarantined_whole(tmp_path) -> None:
    """Recovery must never be blocked forever by one segment: if its rows cannot be written,
    the segment's bytes go to quarantine whole, with the reason."""
    paths = DataPaths(tmp_path)
    sink = RawSink(paths, "sess")
    sink.append(rec(1))
    sink.append(RawRecord("no_such_doc_type", TS, 2, "public_ws", "sess", b"{}", event_name="x"))
    sink.sync()
    seg_bytes = sink._segment.path.read_bytes()
    sink.close()
    assert sink.quarantined == 1 and sink.in_parquet == 0
    row = pq.read_table(next(tmp_path.glob("quarantine/**/*.parquet"))).to_pylist()[0]
    assert row["raw"] == seg_bytes and "could not be written as rows" in row["reason"]
    assert not list(tmp_path.glob("spool/**/*.wal"))


def test_sweep_spares_partials_of_live_writers(tmp_path) -> None:
    from vectra_capture.store.atomic import sweep_partials

    live = tmp_path / f".a.parquet.{os.getpid()}.partial"
    dead = tmp_path / ".b.parquet.999999999.partial"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    assert sweep_partials(tmp_path) == 1
    assert live.exists() and not dead.exists()


def test_lone_surrogates_survive_the_roll_and_a_restart(tmp_path) -> None:
    """Half an emoji (`\\ud83d`) in a username: the row lands (cleaned), raw_json keeps the escape."""
    import json

    paths = DataPaths(tmp_path)
    frame = '["newChatMessage",{"username":"ab\\ud83d","message":"x\\udc00y"}]'
    payload = json.loads(frame)[1]
    sink = RawSink(paths, "sess")
    sink.append(RawRecord("ws_event", TS, 1, "public_ws", "sess", frame.encode(), event_name="newChatMessage",
                          username=payload["username"]))
    sink.close()
    row = pq.read_table(next(tmp_path.glob("events_parquet/**/*.parquet"))).to_pylist()[0]
    assert row["username"] == "ab\ufffd" and row["raw_json"] == frame
    assert json.loads(row["raw_json"])[1]["message"] == "x\udc00y"
