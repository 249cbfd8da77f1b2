"""A large spool left by a crash does not delay reconnecting and does not load into memory whole:
the daemon connects first and recovers in the background, in bounded batches, exactly once."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from capture_helpers import rows, write_numbered_capture
from conftest import free_port, wait_for, wait_port

from vectra_capture.status import read_status
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import SpoolSegment, segment_path

TS = 1_765_065_600_000_000  # 2025-12-07T00:00:00Z
OLD_RECORDS = 60_000
PAYLOAD = 2_000  # 60 000 x ~2.1 KB: a ~125 MB segment


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), read while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _write_leftover_segment(paths: DataPaths) -> Path:
    seg = SpoolSegment(segment_path(paths.spool, "old-session", 1))
    pad = "y" * PAYLOAD
    for seq in range(1, OLD_RECORDS + 1):
        raw = f'["gameStateUpdate",{{"gameId":"old","n":{seq},"pad":"{pad}"}}]'.encode()
        seg.append(RawRecord("ws_event", TS + seq * 1000, seq, "public_ws", "old-session", raw,
                             event_name="gameStateUpdate", game_id="old"))
        if seq % 1000 == 0:
            seg.sync()
    seg.close()
    return seg.path


def test_a_large_leftover_spool_is_recovered_after_connecting_with_bounded_memory(procs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    paths = DataPaths(data)
    segment = _write_leftover_segment(paths)
    segment_mb = segment.stat().st_size / 1e6
    recording = tmp_path / "numbered.jsonl"
    write_numbered_capture(recording, 3000, datetime(2025, 12, 7, 12), interval=0.01)
    port = free_port()
    feed = procs(["feed", "serve", "--port", str(port), "--speed", "1", str(recording)], "feed")
    wait_port(port)
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)], "daemon")
    assert wait_for(lambda: (read_status(paths).get("recovery") or {}).get("state") == "done", 120), \
        read_status(paths)
    peak_mb = _peak_rss_mb(daemon.popen.pid)
    assert daemon.stop() == 0, daemon.stderr()
    feed.stop()

    # Everything from the old segment landed, exactly once, and the segment is gone.
    old = rows(paths, "ws_event", "seq", "session_id = 'old-session'")
    assert len(old) == OLD_RECORDS and {r[0] for r in old} == set(range(1, OLD_RECORDS + 1))
    assert not segment.exists()
    # The daemon was connected and recording frames before recovery finished.
    events = dict(rows(paths, "system_event", "event_name, ts", "event_name in ('connect', 'spool_recovered')"))
    assert events["connect"] < events["spool_recovered"]
    early = rows(paths, "ws_event", "seq", f"session_id <> 'old-session' and ts < '{events['spool_recovered']}'")
    assert early, "no frame was recorded while the spool was being recovered"
    recovered = json.loads(rows(paths, "system_event", "raw_json", "event_name = 'spool_recovered'")[0][0])
    assert recovered == {"records": OLD_RECORDS, "quarantined": 0, "segments": 1, "complete": True}
    # Memory follows a batch, not the segment: loading it whole costs several times its size.
    print(f"segment {segment_mb:.0f} MB, daemon peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 150 + 0.75 * segment_mb, f"peak RSS {peak_mb:.0f} MB for a {segment_mb:.0f} MB segment"
