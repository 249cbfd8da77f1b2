"""A full disk loses nothing that was fsynced, stops nothing, and is reported: on a real small tmpfs
the test mounts itself (root only, as CI runs; skipped with the reason otherwise).

Store level: the spool resumes a write cut by ENOSPC byte-exactly; a roll that cannot compact is
counted and retried. Writer level: records wait in a bounded memory buffer, drops beyond it are
counted. End to end (real `vectra feed serve` + real `vectra capture`): the disk fills mid-stream
and the daemon keeps receiving, `vectra status` says disk_full, and when space is back every frame
lands exactly once; a restart on a full disk waits for space to recover the spool instead of
crashing, and counts what its buffer could not hold.
"""

from __future__ import annotations

import errno
import json
import re
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from capture_helpers import rows
from conftest import VECTRA, free_port, wait_for, wait_port
from fs_helpers import Filler, resize, tmpfs

from vectra_capture.status import read_status
from vectra_capture.store import RawSink
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import SpoolSegment, read_segment, segment_path
from vectra_capture.writer import StorageFailed, WriterThread

TS = 1_765_065_600_000_000  # 2025-12-07T00:00:00Z


def rec(seq: int, size: int = 100, session: str = "sess") -> RawRecord:
    raw = json.dumps(["e", {"n": seq, "pad": "x" * size}]).encode()
    return RawRecord("ws_event", TS + seq, seq, "public_ws", session, raw, event_name="e")


def write_padded_capture(path: Path, count: int, interval: float, pad: int) -> None:
    """A raw-capture recording whose events carry a unique `n` and `pad` bytes of filler."""
    start = datetime(2025, 12, 7, 12)
    with open(path, "w") as fh:
        for n in range(count):
            ts = (start + timedelta(seconds=n * interval)).isoformat()
            data = {"id": f"trade-{n}", "n": n, "gameId": "20251207-00000000000000aa", "pad": "x" * pad}
            fh.write(json.dumps({"seq": n, "ts": ts, "event": "standard/newTrade", "data": data}) + "\n")


def test_a_spool_write_cut_by_enospc_resumes_byte_exactly(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", "1m") as fs:
        seg = SpoolSegment(segment_path(fs / "spool", "sess", 1))
        records = [rec(i, 3000) for i in range(1, 601)]  # ~1.8 MB into 1 MB
        for r in records:
            seg.append(r)
        with pytest.raises(OSError) as full:
            seg.sync()
        assert full.value.errno == errno.ENOSPC
        assert 0 < seg.path.stat().st_size < seg.bytes  # a prefix is on disk, the rest in memory
        resize(fs, "4m")  # space is back
        seg.close()
        contents = read_segment(seg.path)
        assert contents.records == records and contents.torn_tail == b""


def test_a_failed_roll_is_counted_kept_and_retried(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", "4m") as fs:
        paths = DataPaths(fs / "data")
        sink = RawSink(paths, "sess")
        for i in range(1, 201):
            sink.append(rec(i))
        sink.sync()
        with Filler(fs):
            sink.roll()  # the segment is durable; its compaction into Parquet cannot be written
            assert wait_for(lambda: sink.compacting == 0 and sink.roll_failures == 1, 30)
            assert sink.rolls_waiting == 1 and "No space left" in sink.last_roll_error
            assert len(list(paths.spool.rglob("*.wal"))) == 1 and sink.in_parquet == 0
        assert sink.retry_failed_rolls() == 1
        sink.close()
        assert sink.in_parquet == 200 and sink.rolls_waiting == 0
        assert not list(paths.spool.rglob("*.wal"))
        assert [r[0] for r in rows(paths, "ws_event", "seq")] == list(range(1, 201))


def test_the_writer_buffers_counts_drops_and_recovers(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", "4m") as fs:
        paths = DataPaths(fs / "data")
        events: list[tuple[str, dict]] = []
        writer = WriterThread(RawSink(paths, "sess"), flush_interval=0.05, max_buffer_bytes=200_000,
                              retry_interval=0.05, status_interval=0.1, post_event=lambda name, d: events.append((name, d)))
        writer.status = writer.storage_status
        writer.start()
        for i in range(1, 51):
            writer.put(rec(i))
        assert wait_for(lambda: writer.durable["ws_event"] == 50, 10)
        with Filler(fs):
            for i in range(51, 351):  # ~330 KB against a 200 KB buffer
                writer.put(rec(i, 1000))
            assert wait_for(lambda: writer.health.dropped["ws_event"] > 0, 10)

            def status() -> dict:  # rewritten in place: the disk has no room for a new file
                return json.loads(paths.capture_status.read_text())

            assert wait_for(lambda: status()["dropped"] > 0, 10)
            status = status()
            assert status["storage_state"] == "disk_full" and status["buffered_bytes"] > 150_000
            assert "No space left" in status["storage_error"]
            assert [name for name, _ in events] == ["disk_full"]
        assert wait_for(lambda: not writer.failing, 10)
        dropped = writer.dropped_total
        names = [name for name, _ in events]
        assert names == ["disk_full", "storage_recovered", "records_dropped"]
        lost = events[2][1]
        assert lost["count"] == dropped > 0 and lost["by_doc_type"] == {"ws_event": dropped}
        assert events[1][1]["peak_buffered_bytes"] > 150_000 and events[1][1]["dropped"] == dropped
        writer.stop()
        assert writer.error is None
        landed = [r[0] for r in rows(paths, "ws_event", "seq")]
        gap = set(range(lost["first_seq"], lost["last_seq"] + 1))
        assert len(gap) == dropped and sorted(set(range(1, 351)) - gap) == landed


def _status(data: Path) -> dict:
    """What `vectra status --json` prints (the same function, without a process start per poll)."""
    return read_status(DataPaths(data))


def _numbers(paths: DataPaths, session: str | None = None) -> list[int]:
    where = f"session_id = '{session}'" if session else "true"
    return [json.loads(r[0])[-1]["n"] for r in rows(paths, "ws_event", "raw_json", where)]


def test_the_disk_fills_mid_stream_and_every_frame_still_lands(procs, tmp_path: Path) -> None:
    recording = tmp_path / "padded.jsonl"
    write_padded_capture(recording, 1500, interval=0.01, pad=1000)  # 15 s at 100 frames/s, ~1.1 KB each
    with tmpfs(tmp_path / "fs", "24m") as fs:
        data = fs / "data"
        paths = DataPaths(data)
        port = free_port()
        feed = procs(["feed", "serve", "--port", str(port), "--speed", "1", str(recording)], "feed")
        wait_port(port)
        daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data),
                        "--roll-seconds", "2"], "daemon")
        assert wait_for(lambda: _status(data).get("written", 0) > 150, 60)
        with Filler(fs):
            assert wait_for(lambda: _status(data).get("storage_state") == "disk_full", 20), _status(data)
            first = _status(data)
            time.sleep(2)
            full = _status(data)
            assert daemon.popen.poll() is None, daemon.stderr()
            assert full["running"] and full["state"] == "connected" and full["storage_state"] == "disk_full"
            assert full["received"] > first["received"] and full["buffered_bytes"] > first["buffered_bytes"] > 0
            assert full["dropped"] == 0 and "No space left" in full["storage_error"]
            human = subprocess.run([*VECTRA, "status", "--data-dir", str(data)], capture_output=True, text=True)
            assert "DISK:        disk_full" in human.stdout and "MB buffered in memory" in human.stdout
        assert wait_for(lambda: _status(data).get("storage_state") == "ok", 20)
        assert feed.wait(60) == 0
        assert wait_for(lambda: _status(data).get("received", 0) == 1500, 30)
        assert daemon.stop() == 0, daemon.stderr()
        numbers = _numbers(paths)
        assert sorted(numbers) == list(range(1500)), "a frame was lost or landed twice"
        events = [r[0] for r in rows(paths, "system_event", "event_name")]
        assert events.index("disk_full") < events.index("storage_recovered")
        recovered = json.loads(rows(paths, "system_event", "raw_json", "event_name = 'storage_recovered'")[0][0])
        assert recovered["dropped"] == 0 and recovered["peak_buffered_bytes"] > 0
        assert "records_dropped" not in events
        assert not list(paths.spool.rglob("*.wal")) and not list(data.rglob(".*.partial"))


def test_a_restart_on_a_full_disk_waits_recovers_and_counts_drops(procs, tmp_path: Path) -> None:
    """kill -9 leaves a spool; the disk is full when the daemon restarts: it connects and keeps
    capturing into a (deliberately tiny) buffer, recovery waits, and when space is back the old
    spool lands exactly once and the new session's rows plus the counted drops make up all it got."""
    recording = tmp_path / "padded.jsonl"
    write_padded_capture(recording, 500, interval=0.01, pad=1000)
    with tmpfs(tmp_path / "fs", "16m") as fs:
        data = fs / "data"
        paths = DataPaths(data)
        port = free_port()
        feed = procs(["feed", "serve", "--port", str(port), "--speed", "1", "--loop", str(recording)], "feed")
        wait_port(port)
        url = f"http://127.0.0.1:{port}"
        first = procs(["capture", "--url", url, "--data-dir", str(data)], "daemon1")
        assert wait_for(lambda: _status(data).get("written", 0) > 100, 30)
        first.popen.kill()
        first.wait(10)
        old_numbers = [json.loads(r.raw)[-1]["n"] for seg in paths.spool.rglob("*.wal")
                       for r in read_segment(seg).records if r.doc_type == "ws_event"]
        (old_session,) = {seg.parent.name for seg in paths.spool.rglob("*.wal")}
        assert len(old_numbers) > 100
        with Filler(fs):
            second = procs(["capture", "--url", url, "--data-dir", str(data), "--max-buffer-mb", "0.1"], "daemon2")

            def waiting_and_dropping() -> bool:
                st = _status(data)
                return bool(st.get("running") and st.get("state") == "connected"
                            and st.get("storage_state") == "disk_full" and st.get("dropped", 0) > 0
                            and (st.get("recovery") or {}).get("state") == "waiting")

            assert wait_for(waiting_and_dropping, 30), _status(data)
            assert second.popen.poll() is None, second.stderr()
        assert wait_for(lambda: (_status(data).get("recovery") or {}).get("state") == "done", 30), _status(data)
        after = _status(data)["received"]
        assert wait_for(lambda: _status(data).get("received", 0) > after + 50, 30)  # capturing on, to disk
        assert second.stop() == 0, second.stderr()
        feed.stop()
        assert "Traceback" not in second.stderr()
        received = int(re.search(r"received (\d+)", second.stderr()).group(1))
        assert sorted(_numbers(paths, old_session)) == sorted(old_numbers), "the old spool did not land exactly once"
        names = [r[0] for r in rows(paths, "system_event", "event_name")]
        assert {"spool_recovery_waiting", "spool_recovered", "disk_full", "storage_recovered",
                "records_dropped"} <= set(names)
        ((raw, new_session),) = rows(paths, "system_event", "raw_json, session_id", "event_name = 'records_dropped'")
        dropped = json.loads(raw)
        landed = rows(paths, "ws_event", "seq", f"session_id = '{new_session}'")
        assert dropped["count"] > 0 and len(landed) + dropped["count"] == received
        recovered = json.loads(rows(paths, "system_event", "raw_json", "event_name = 'spool_recovered'")[0][0])
        assert recovered["records"] >= len(old_numbers) and recovered["complete"] is True


def test_a_stop_while_the_disk_stays_full_says_what_was_lost(tmp_path: Path) -> None:
    """SIGTERM on a disk that never frees: wait `stop_grace`, then fail loudly with the count (the
    status file, rewritten in place, keeps it), never a silent drop."""
    with tmpfs(tmp_path / "fs", "4m") as fs:
        paths = DataPaths(fs / "data")
        writer = WriterThread(RawSink(paths, "sess"), flush_interval=0.05, retry_interval=0.05, stop_grace=0.5)
        writer.status = writer.storage_status
        writer.start()
        writer.put(rec(1))
        assert wait_for(lambda: writer.durable["ws_event"] == 1 and paths.capture_status.exists(), 10)
        with Filler(fs):
            for i in range(2, 12):
                writer.put(rec(i, 5000))  # bigger than what is left of the segment's last page
            writer.stop(30)
            assert isinstance(writer.error, StorageFailed) and writer.lost == 10
            assert "10 records" in str(writer.error) and "No space left" in str(writer.error)
            status = read_status(paths)
            assert status["storage_state"] == "disk_full" and status["lost_at_stop"] == 10
        assert [r.seq for r in read_segment(next(paths.spool.rglob("*.wal"))).records][0] == 1  # fsynced: kept
