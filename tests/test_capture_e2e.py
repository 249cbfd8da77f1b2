"""Feed -> daemon -> Parquet with real processes and sockets on 127.0.0.1."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from capture_helpers import rows, write_numbered_capture
from conftest import RAW_SAMPLES, VECTRA, free_port, wait_for, wait_port

from vectra_capture.store.layout import DataPaths


def _sample_events() -> list[tuple[str, list]]:
    """Independent reading of the fixture: (event name, args as the server sends them)."""
    out = []
    for line in RAW_SAMPLES.read_text().splitlines():
        rec = json.loads(line)
        data = rec["data"]
        traced = isinstance(data, list) and len(data) == 2 and isinstance(data[0], dict) and "__trace" in data[0]
        out.append((rec["event_type"], data if traced else [data]))
    return out


def test_every_emitted_frame_lands_once(captured_raw: DataPaths) -> None:
    summary = json.loads((captured_raw.root.parent / "feed_summary.json").read_text())
    expected = _sample_events()
    assert summary["emitted"] == len(expected)
    landed = rows(captured_raw, "ws_event", "session_id, seq, event_name, raw_json, source, direction, game_id")
    assert len(landed) == len(expected)
    assert Counter(r[2] for r in landed) == Counter(name for name, _ in expected) == Counter(summary["by_event"])
    assert len({(r[0], r[1]) for r in landed}) == len(landed), "duplicate (session_id, seq)"
    # Frames are kept whole and in order: name first, then every argument (trace included).
    assert [json.loads(r[3]) for r in landed] == [[name, *args] for name, args in expected]
    assert {r[4] for r in landed} == {"public_ws"} and {r[5] for r in landed} == {"received"}
    seqs = [r[1] for r in landed]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    gsu_games = {a[-1]["gameId"] for n, a in expected if n == "gameStateUpdate"}
    assert gsu_games <= {r[6] for r in landed}


def test_lifecycle_lands_as_system_events(captured_raw: DataPaths) -> None:
    names = [r[0] for r in rows(captured_raw, "system_event", "event_name")]
    assert names[0] == "session_start" and names[-1] == "session_end"
    assert names.count("connect") == 1
    details = dict(rows(captured_raw, "system_event", "event_name, raw_json", "event_name = 'connect'"))
    assert json.loads(details["connect"])["transport"] == "websocket"


def test_sigterm_flushes_everything_and_status_reports(procs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    feed = procs(["feed", "serve", "--port", str(port), "--speed", "4", "--loop", str(RAW_SAMPLES)], "feed")
    wait_port(port)
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)], "daemon")

    def status() -> dict:
        out = subprocess.run([*VECTRA, "status", "--json", "--data-dir", str(data)], capture_output=True, text=True)
        return json.loads(out.stdout) if out.returncode == 0 else {}

    assert wait_for(lambda: status().get("written", 0) > 50, 60)
    st = status()
    assert st["running"] is True and st["state"] == "connected" and not st["stale"]
    assert st["received"] >= st["written"] > 50 and st["quarantined"] == 0
    assert st["live"]["game_id"].startswith("2025") and st["live"]["phase"]
    assert st["lag_seconds"] < 5
    # SIGTERM while the feed is still streaming: everything received must reach Parquet.
    assert daemon.stop() == 0
    received = int(re.search(r"received (\d+)", daemon.stderr()).group(1))
    assert received > st["received"]
    assert len(rows(DataPaths(data), "ws_event", "seq")) == received
    assert not list((data / "spool").rglob("*.wal"))
    assert status()["running"] is False
    feed.stop()


def test_kill_9_loses_at_most_the_last_flush_interval(procs, tmp_path: Path) -> None:
    """The daemon is SIGKILLed mid-stream and restarted. Every event a bystander client saw more
    than 1 s (+0.5 s scheduling slack) before the kill is in Parquet exactly once; all files read."""
    import asyncio
    import threading

    import socketio

    recording = tmp_path / "numbered.jsonl"
    write_numbered_capture(recording, 2000, datetime(2025, 12, 7, 12), interval=0.02)  # 50 events/s
    data = tmp_path / "data"
    port = free_port()
    feed = procs(["feed", "serve", "--port", str(port), "--speed", "1", str(recording)], "feed")
    wait_port(port)

    seen: dict[int, float] = {}  # n -> time the bystander received it

    async def bystander(stop: threading.Event) -> None:
        client = socketio.AsyncClient()

        @client.on("*")
        async def any_event(event, *args):
            seen[args[-1]["n"]] = time.time()

        await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await client.disconnect()

    stop = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(bystander(stop)), daemon=True)
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)], "daemon1")
    status_file = DataPaths(data).run / "capture-status.json"
    # The feed starts with its first client: let that be the daemon, so the bystander sees nothing
    # the daemon could not have seen.
    assert wait_for(lambda: status_file.exists() and '"connected"' in status_file.read_text(), 30)
    thread.start()
    assert wait_for(lambda: len(seen) > 600, 60)  # about 12 s of stream: spool flushed many times
    daemon.popen.kill()
    killed_at = time.time()
    daemon.wait(10)
    must_have = {n for n, t in seen.items() if t < killed_at - 1.5}
    time.sleep(1.0)
    restarted = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)], "daemon2")
    assert wait_for(lambda: len(seen) > 1200, 60)
    assert restarted.stop() == 0
    stop.set()
    thread.join(10)
    feed.stop()

    paths = DataPaths(data)
    landed = rows(paths, "ws_event", "session_id, seq, raw_json")
    numbers = [json.loads(r[2])[-1]["n"] for r in landed]
    assert len(numbers) == len(set(numbers)), "an event landed twice"
    assert must_have <= set(numbers), f"lost: {sorted(must_have - set(numbers))[:10]}"
    assert len({r[0] for r in landed}) == 2  # the killed session (recovered) and the restart
    recovered = rows(paths, "system_event", "raw_json", "event_name = 'spool_recovered'")
    assert len(recovered) == 1 and json.loads(recovered[0][0])["records"] > 0
    assert not list((data / "spool").rglob("*.wal"))
    assert not list(data.rglob(".*.partial"))


def test_reconnects_after_the_feed_restarts(procs, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    args = ["feed", "serve", "--port", str(port), "--speed", "1", "--loop", str(RAW_SAMPLES)]
    feed = procs(args, "feed1")
    wait_port(port)
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)], "daemon")
    paths = DataPaths(data)
    status_file = paths.run / "capture-status.json"

    def status() -> dict:
        try:
            return json.loads(status_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    assert wait_for(lambda: status().get("state") == "connected" and status().get("received", 0) > 5, 30)
    feed.signal(signal.SIGTERM)
    feed.wait(30)
    assert wait_for(lambda: status().get("state") in {"disconnected", "connecting"}, 30)
    time.sleep(2)  # a few failed attempts while nothing listens
    before = status()["received"]
    procs(args, "feed2")
    assert wait_for(lambda: status().get("state") == "connected" and status().get("received", 0) > before + 5, 60)
    assert daemon.stop() == 0
    names = [r[0] for r in rows(paths, "system_event", "event_name")]
    assert names.count("connect") == 2
    assert "disconnect" in names and "reconnect_attempt" in names
    assert names.index("disconnect") < names.index("reconnect_attempt") < len(names) - 1 - names[::-1].index("connect")


def test_first_connection_failure_is_retried_and_the_watchdog_alarms_once(procs, tmp_path: Path) -> None:
    """The daemon starts before any server exists (connect errors, retried with backoff), then
    connects to a feed that sends trades but no gameStateUpdate: one watchdog alarm per silence."""
    recording = tmp_path / "trades_only.jsonl"
    write_numbered_capture(recording, 400, datetime(2025, 12, 7, 12), interval=0.02)
    data = tmp_path / "data"
    port = free_port()
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data), "--watchdog", "1.5"],
                   "daemon")
    status_file = DataPaths(data).run / "capture-status.json"

    def status() -> dict:
        try:
            return json.loads(status_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    assert wait_for(lambda: status().get("reconnects", 0) >= 1, 30)  # attempts while nothing listens
    feed = procs(["feed", "serve", "--port", str(port), "--speed", "1", str(recording)], "feed")
    assert wait_for(lambda: status().get("received", 0) >= 300, 60)  # >= 6 s of trades, no game state
    assert daemon.stop() == 0
    feed.stop()
    names = [r[0] for r in rows(DataPaths(data), "system_event", "event_name")]
    first_connect = names.index("connect")
    assert "connect_error" in names[:first_connect] and "reconnect_attempt" in names[:first_connect]
    assert names.count("connect") == 1
    assert names.count("watchdog_alarm") == 1 and names.index("watchdog_alarm") > first_connect
