"""The browser capture through a browser's life: two tabs, a reload mid-stream, tabs closed, the
browser killed and started again, CDP not listening yet. Each socket's frames must land exactly
once (a contiguous run of the looping feed), and the player's live state follows the server."""

from __future__ import annotations

import json
from pathlib import Path

from capture_helpers import rows
from cdp_helpers import Chromium, status
from conftest import FIXTURES, RAW_SAMPLES, free_port, wait_for, wait_port

from vectra_capture.store.layout import DataPaths

AUTH = FIXTURES / "raw" / "auth_examples"
BIG_QTY = 12345678901234567891  # more digits than a double holds: proves the live state is not via float


def _args(data: object) -> list:
    traced = isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0]
    return list(data) if traced else [data]  # type: ignore[arg-type]


def write_player_recording(folder: Path) -> list[list]:
    """Single-event captures: the real usernameStatus-less playerUpdate, then a second one with new numbers.
    Returns the frames the feed emits per loop (with the raw samples after them)."""
    folder.mkdir()
    real = json.loads((AUTH / "seq_193_2025-12-17T21-35-05.916212_playerUpdate.json").read_text())
    changed = json.loads(json.dumps(real))
    changed.update(seq=194, ts="2025-12-17T21:35:06.000000")
    changed["data"].update(cash=0.5, positionQty=BIG_QTY, avgCost=1.25, cumulativePnL=-0.25, pnlPercent=33.5)
    for rec in (real, changed):
        (folder / f"seq_{rec['seq']}_playerUpdate.json").write_text(json.dumps(rec))
    frames = [[r["event"], *_args(r["data"])] for r in (real, changed)]
    for line in RAW_SAMPLES.read_text().splitlines():
        rec = json.loads(line)
        frames.append([rec["event_type"], *_args(rec["data"])])
    return frames


def assert_contiguous(received: list[list], loop: list[list]) -> None:
    """A socket's received events are consecutive feed events (wrapping around the loop): none lost
    in between, none twice."""
    assert received, "no frames"
    starts = [i for i, frame in enumerate(loop) if frame == received[0]]
    assert any(all(frame == loop[(start + j) % len(loop)] for j, frame in enumerate(received)) for start in starts)


def socket_frames(data: DataPaths, socket_id: str) -> list[list]:
    return [json.loads(r[0]) for r in rows(data, "ws_event", "raw_json",
                                           f"socket_id = '{socket_id}' AND direction = 'received' "
                                           "AND event_name <> '__ack__'")]


def _sockets(data: Path) -> dict[str, dict]:
    return {s["id"]: s for s in status(data).get("sockets") or []}


def _settled(sock: dict) -> bool:
    """Frames flowing, and up long enough for a second application ping: in its first second a page
    sends at most "40", one ping and one pong, so five sent frames mean the 1 s timer has fired."""
    return sock["received"] > 20 and sock["sent"] >= 5


def test_two_tabs_a_reload_and_closed_tabs(procs, tmp_path: Path) -> None:
    loop = write_player_recording(tmp_path / "rec")
    data = tmp_path / "data"
    browser = Chromium(tmp_path).start()
    try:
        port = free_port()
        procs(["feed", "serve", "--port", str(port), "--speed", "4", "--loop", "--ping-interval", "1",
               str(tmp_path / "rec"), str(RAW_SAMPLES)], "feed")
        wait_port(port)
        capture = procs(["capture", "--cdp", browser.cdp_url, "--data-dir", str(data)], "capture")
        assert wait_for(lambda: status(data).get("browser") == "attached", 60), capture.stderr()
        tab_a = browser.open_tab(f"http://127.0.0.1:{port}/?ping=1")
        tab_b = browser.open_tab(f"http://127.0.0.1:{port}/?ping=1")
        assert wait_for(lambda: len(_sockets(data)) == 2 and all(_settled(s) for s in _sockets(data).values()), 90)
        first = {s["target"]: sid for sid, s in _sockets(data).items()}
        assert set(first) == {tab_a, tab_b}  # two tabs, two sockets, told apart

        # the server's numbers for the player, exactly as sent, while the socket is up
        assert wait_for(lambda: (status(data)["live"]["player"] or {}).get("position_qty") == str(BIG_QTY), 60)
        player = status(data)["live"]["player"]
        assert {k: player[k] for k in ("cash", "position_qty", "avg_cost", "pnl", "pnl_percent", "stale")} == {
            "cash": "0.5", "position_qty": str(BIG_QTY), "avg_cost": "1.25", "pnl": "-0.25", "pnl_percent": "33.5",
            "stale": False}

        # the page answers the feed's Engine.IO pings (else the feed drops it); counted, never stored as events
        assert wait_for(lambda: status(data)["control_packets"].get("pong", 0) >= 4, 30)
        assert status(data)["control_packets"]["ping"] >= 4 and len(_sockets(data)) == 2

        browser.reload_tab(tab_a)  # mid-stream: the old socket closes, the reloaded page opens a new one
        assert wait_for(lambda: any(s["target"] == tab_a and sid != first[tab_a] and _settled(s)
                                    for sid, s in _sockets(data).items()), 90)
        browser.close_tab(tab_b)
        browser.close_tab(tab_a)
        assert wait_for(lambda: not _sockets(data) and status(data)["live"]["player"]["stale"] is True, 60)
        assert status(data)["browser"] == "attached"
        assert capture.stop() == 0, capture.stderr()
    finally:
        browser.stop()

    paths = DataPaths(data)
    socket_ids = sorted({r[0] for r in rows(paths, "ws_event", "socket_id")})
    assert len(socket_ids) == 3 and first[tab_a] in socket_ids and first[tab_b] in socket_ids
    for sid in socket_ids:
        assert_contiguous(socket_frames(paths, sid), loop)
        pings = rows(paths, "ws_event", "ack_id", f"socket_id = '{sid}' AND event_name = 'ping' AND direction = 'sent'")
        assert len(pings) >= 2  # right after connecting, then every second
    assert rows(paths, "ws_event", "event_name", "event_name IN ('2', '3', 'ping') AND direction = 'received'") == []
    events = rows(paths, "system_event", "event_name, raw_json")
    created = [json.loads(raw)["socket_id"] for name, raw in events if name == "socket_created"]
    closed = [json.loads(raw)["socket_id"] for name, raw in events if name == "socket_closed"]
    assert sorted(created) == sorted(closed) == socket_ids
    assert sum(name == "target_detached" for name, _ in events) >= 2


def test_browser_killed_and_started_again(procs, tmp_path: Path) -> None:
    loop = write_player_recording(tmp_path / "rec")
    data = tmp_path / "data"
    browser = Chromium(tmp_path)
    port = free_port()
    procs(["feed", "serve", "--port", str(port), "--speed", "4", "--loop", str(tmp_path / "rec"), str(RAW_SAMPLES)],
          "feed")
    wait_port(port)
    # CDP not listening yet: the capture waits and retries
    capture = procs(["capture", "--cdp", browser.cdp_url, "--data-dir", str(data), "--backoff-max", "1"], "capture")
    try:
        assert wait_for(lambda: status(data).get("browser") == "waiting" and status(data).get("reconnects", 0) >= 2, 60)
        browser.start()
        assert wait_for(lambda: status(data).get("browser") == "attached", 60), capture.stderr()
        browser.open_tab(f"http://127.0.0.1:{port}/")
        assert wait_for(lambda: any(s["received"] > 20 for s in _sockets(data).values()), 90)
        assert wait_for(lambda: (status(data)["live"]["player"] or {}).get("stale") is False, 60)

        browser.kill()  # kill -9: no goodbye on the CDP connection
        assert wait_for(lambda: status(data).get("browser") == "waiting", 60)
        assert status(data)["live"]["player"]["stale"] is True and not _sockets(data)

        browser.start()  # attached again before the tab opens: a socket opened earlier is unknowable (socket_unknown)
        assert wait_for(lambda: status(data).get("browser") == "attached", 60), capture.stderr()
        browser.open_tab(f"http://127.0.0.1:{port}/")
        assert wait_for(lambda: any(s["received"] > 20 for s in _sockets(data).values()), 90), status(data)
        assert capture.stop() == 0, capture.stderr()
    finally:
        browser.stop()

    paths = DataPaths(data)
    names = [r[0] for r in rows(paths, "system_event", "event_name")]
    assert names.index("browser_retrying") < names.index("browser_attached")
    assert names.count("browser_attached") == 2 and names.count("browser_lost") == 1
    lost = names.index("browser_lost")
    assert "browser_retrying" in names[lost:] and names.index("socket_closed") < lost
    socket_ids = sorted({r[0] for r in rows(paths, "ws_event", "socket_id")})
    assert len(socket_ids) == 2
    for sid in socket_ids:
        assert_contiguous(socket_frames(paths, sid), loop)
    assert {r[0] for r in rows(paths, "ws_event", "source")} == {"cdp"}
