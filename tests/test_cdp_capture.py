"""The browser capture end to end: replay feed -> its client page in real headless Chromium ->
`vectra capture --cdp` -> Parquet. The capture attaches before the tab opens, so every frame the
feed emits and every frame the page sends must land exactly once."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from capture_helpers import rows
from cdp_helpers import Chromium, status, status_cli
from conftest import FIXTURES, RAW_SAMPLES, Proc, free_port, wait_for, wait_port

from vectra_capture.store import write_manifest
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.run import derive_date
from vectra_pipeline.derive.schema_manifest import MANIFEST, check_manifest, expected_manifest, migrate
from vectra_pipeline.query import Query
from vectra_pipeline.service import live
from vectra_pipeline.service.context import Context

AUTH = FIXTURES / "raw" / "auth_examples"
AUTH_SYNTHETIC = FIXTURES / "raw" / "auth_synthetic"
TOKEN = "tok-5f2c9e0d1b7a4e66-not-a-real-secret"


def _args(data: object) -> list:
    traced = isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0]
    return list(data) if traced else [data]  # type: ignore[arg-type]


def expected_frames() -> list[list]:
    """Independent reading of what the feed emits: the single-event captures by seq, then the samples."""
    singles = sorted((json.loads(p.read_text()) for d in (AUTH, AUTH_SYNTHETIC) for p in d.glob("*.json")),
                     key=lambda r: r["seq"])
    frames = [[r["event"], *_args(r["data"])] for r in singles]
    for line in RAW_SAMPLES.read_text().splitlines():
        rec = json.loads(line)
        frames.append([rec["event_type"], *_args(rec["data"])])
    return frames


@dataclass
class CdpRun:
    data: DataPaths
    feed_summary: dict
    live: dict
    status: dict
    status_text: str
    started: float
    ended: float


@pytest.fixture(scope="session")
def cdp_run(tmp_path_factory: pytest.TempPathFactory) -> CdpRun:
    """One full run; session-scoped, treat as read-only."""
    workdir = tmp_path_factory.mktemp("cdp_run")
    data = workdir / "data"
    browser = Chromium(workdir).start()
    procs: list[Proc] = []
    try:
        port = free_port()
        feed = Proc(["feed", "serve", "--port", str(port), "--speed", "0", "--json", str(AUTH), str(AUTH_SYNTHETIC),
                     str(RAW_SAMPLES)], workdir, "feed")
        procs.append(feed)
        wait_port(port)
        capture = Proc(["capture", "--cdp", browser.cdp_url, "--data-dir", str(data)], workdir, "capture")
        procs.append(capture)
        assert wait_for(lambda: status(data).get("browser") == "attached", 60), capture.stderr()
        started = time.time()
        browser.open_tab(f"http://127.0.0.1:{port}/?orders=1&token={TOKEN}")
        assert feed.wait(120) == 0, feed.stderr()
        summary = feed.json()
        # the feed closed its socket once everything was delivered: the capture saw the close
        assert wait_for(lambda: status(data).get("frames", {}).get("received", 0) > 0
                        and not status(data).get("sockets"), 60), status(data)
        st = status(data)
        text = status_cli(data).stdout
        ended = time.time()
        assert capture.stop() == 0, capture.stderr()
        return CdpRun(DataPaths(data), summary, st["live"], st, text, started, ended)
    finally:
        for p in procs:
            if p.popen.poll() is None:
                p.popen.kill()
        browser.stop()


def test_every_emitted_frame_lands_exactly_once(cdp_run: CdpRun) -> None:
    expected = expected_frames()
    assert cdp_run.feed_summary["emitted"] == len(expected)
    landed = rows(cdp_run.data, "ws_event", "seq, event_name, raw_json, source, socket_id, ts",
                  "direction = 'received' AND event_name <> '__ack__'")
    assert [json.loads(r[2]) for r in landed] == expected  # every frame, once, in order, verbatim
    assert Counter(r[1] for r in landed) == Counter(cdp_run.feed_summary["by_event"])
    assert {r[3] for r in landed} == {"cdp"}
    sockets = {r[4] for r in landed}
    assert len(sockets) == 1 and None not in sockets
    # ts: the browser's own receipt time, in UTC, inside the run; one socket's frames in order
    ts = [r[5].timestamp() for r in landed]
    assert cdp_run.started - 1 <= ts[0] and ts[-1] <= cdp_run.ended + 1
    assert ts == sorted(ts)


def test_sent_frames_land_with_direction_sent_and_their_acks(cdp_run: CdpRun) -> None:
    sent = rows(cdp_run.data, "ws_event", "seq, event_name, raw_json, ack_id, socket_id, source",
                "direction = 'sent'")
    assert Counter(r[1] for r in sent) == Counter(cdp_run.feed_summary["requests"]) == Counter(
        {"authenticate": 1, "ping": 1, "buyOrder": 1, "sellOrder": 1})
    by_name = {r[1]: r for r in sent}
    buy = json.loads(by_name["buyOrder"][2])
    assert buy[0] == "buyOrder" and buy[1]["__trace"] is True and buy[-1] == {"amount": 0.002}
    assert json.loads(by_name["sellOrder"][2])[-1] == {"percentage": 50}
    assert json.loads(by_name["ping"][2])[-1]["lastPing"] > 1.7e12
    assert {r[5] for r in sent} == {"cdp"}
    acks = {(r[1], r[2]): r for r in rows(cdp_run.data, "ws_event", "seq, ack_id, socket_id, raw_json",
                                          "event_name = '__ack__'")}
    for seq, name, _raw, ack_id, socket_id, _src in sent:
        ack = acks[(ack_id, socket_id)]  # the same ack id on the same socket answers it, later
        assert ack[0] > seq
        assert json.loads(ack[3]) == ([] if name == "ping" else [{"success": True}])
    assert len({r[3] for r in sent}) == len(sent)  # ack ids are distinct per request


def test_authenticate_token_is_stored_redacted(cdp_run: CdpRun) -> None:
    (raw,) = [r[0] for r in rows(cdp_run.data, "ws_event", "raw_json", "event_name = 'authenticate'")]
    fingerprint = hashlib.sha256(TOKEN.encode()).hexdigest()[:12]
    assert json.loads(raw) == ["authenticate", {"token": f"<redacted sha256:{fingerprint}>"}]
    assert cdp_run.status["redacted"] == 1
    # the token is nowhere under the data root: frames, system events (the tab URL), status, spool
    leaks = [p for p in cdp_run.data.root.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaks == []


def test_socket_and_browser_lifecycle_are_system_events(cdp_run: CdpRun) -> None:
    events = rows(cdp_run.data, "system_event", "event_name, raw_json, source")
    names = [e[0] for e in events]
    assert names[0] == "session_start" and names[-1] == "session_end"
    assert names.count("browser_attached") == 1 and names.count("socket_created") == 1
    assert names.count("socket_closed") == 1
    assert names.index("browser_attached") < names.index("socket_created") < names.index("socket_closed")
    created = json.loads(events[names.index("socket_created")][1])
    closed = json.loads(events[names.index("socket_closed")][1])
    (socket_id,) = {r[0] for r in rows(cdp_run.data, "ws_event", "socket_id")}
    assert created["socket_id"] == closed["socket_id"] == socket_id
    assert created["url"].startswith("ws://127.0.0.1:") and "/socket.io/" in created["url"]
    # every websocket frame the page sent: 4 requests, the Socket.IO connect, a pong per Engine.IO ping
    pongs = cdp_run.status["control_packets"].get("pong", 0)
    assert closed["reason"] == "closed" and closed["sent"] == 4 + 1 + pongs
    assert {e[2] for e in events} == {"cdp"}


def test_status_shows_browser_frames_and_the_players_live_state(cdp_run: CdpRun) -> None:
    st = cdp_run.status
    assert st["source"] == "cdp" and st["browser"] == "attached" and st["sockets"] == []
    received = len(rows(cdp_run.data, "ws_event", "seq", "direction = 'received'"))
    assert st["frames"] == {"received": received, "sent": 4}
    assert st["control_packets"]["open"] == 1 and st["quarantined"] == 0
    # the last playerUpdate exactly as the server sent it (the numbers' JSON text), stale once its socket closed
    last = json.loads((AUTH / "seq_197_2025-12-17T21-35-06.410762_playerUpdate.json").read_text())["data"]
    player = cdp_run.live["player"]
    assert player == {
        "id": last["id"], "username": "Dutch", "cash": "0.014135859", "position_qty": "0", "avg_cost": "0",
        "pnl": "-0.000988856", "pnl_percent": "-98.8856", "updated_at": player["updated_at"], "stale": True}
    assert "browser:     attached" in cdp_run.status_text
    assert "LIVE:        Dutch  cash=0.014135859" in cdp_run.status_text and "STALE" in cdp_run.status_text
    # the service layer (MCP `live`) reads the same state from the status file the stopped daemon left
    ctx = Context(cdp_run.data)
    try:
        shown = live.live(ctx)
    finally:
        ctx.close()
    assert shown.source == "cdp" and shown.sent == 4 and not shown.running and shown.player is not None
    assert shown.player.id == last["id"] and shown.player.stale is True and shown.player.updated_at is not None
    assert shown.player.values == {"username": "Dutch", "cash": "0.014135859", "position_qty": "0", "avg_cost": "0",
                                   "pnl": "-0.000988856", "pnl_percent": "-98.8856"}


def test_a_non_loopback_cdp_endpoint_is_refused(tmp_path: Path, procs) -> None:
    data = tmp_path / "data"
    for url in ("http://10.1.2.3:9222", "http://example.com:9222", "ws://192.168.1.5:9222/devtools/browser/x"):
        p = procs(["capture", "--cdp", url, "--data-dir", str(data)], "refused")
        assert p.wait(60) == 2
        assert "refusing the non-loopback DevTools endpoint" in p.stderr() and "--allow-remote-cdp" in p.stderr()
    assert not data.exists()  # refused before anything was written


# -- typed tables from the browser capture ---------------------------------------------------------
@pytest.fixture
def derived_copy(cdp_run: CdpRun, tmp_path: Path) -> tuple[DataPaths, str]:
    root = tmp_path / "data"
    shutil.copytree(cdp_run.data.root, root)
    paths = DataPaths(root)
    (date,) = [p.name.split("=", 1)[1] for p in paths.doc_type_dir("ws_event").glob("date=*")]
    return paths, date


def test_own_orders_become_player_actions_with_their_acks(derived_copy: tuple[DataPaths, str]) -> None:
    paths, date = derived_copy
    (result,) = derive_date(paths, date, ("player_action",))
    assert result.model_failures == 0
    orders = rows(paths, "player_action", "event_name, action_type, direction, amount, percentage, ack_id, "
                  "socket_id, ack_success, ack_json, ack_ts > ts, source", "action_kind = 'order'")
    (socket_id,) = {r[0] for r in rows(paths, "ws_event", "socket_id")}
    assert [r[:3] for r in orders] == [("buyOrder", "BUY", "sent"), ("sellOrder", "PARTIAL_SELL", "sent")]
    buy, sell = orders
    assert buy[3] == Decimal("0.002") and buy[4] is None and sell[4] == Decimal("50") and sell[3] is None
    for r in orders:
        assert r[5] is not None and r[6] == socket_id and r[7] is True and r[8] == '[{"success":true}]'
        assert r[9] is True and r[10] == "cdp"
    # the server's truth for the player: its playerUpdate rows, numbers exact
    derive_date(paths, date, ("server_state",))
    states = rows(paths, "server_state", "player_id, cash, pnl, pnl_percent, source", "state_source = 'playerUpdate'")
    assert states == [("did:privy:cmaibr7rt0094jp0mc2mbpfu4", Decimal("0.014135859"), Decimal("-0.000988856"),
                       Decimal("-98.8856"), "cdp")]  # two identical updates: one distinct state


def test_schema_v1_root_migrates_to_v3(derived_copy: tuple[DataPaths, str]) -> None:
    paths, date = derived_copy
    for f in paths.doc_type_dir("ws_event").glob("date=*/*.parquet"):  # as written before v2/v3
        pq.write_table(pq.read_table(f).drop_columns(["namespace", "ack_id", "socket_id"]), f)
    derive_date(paths, date, ("player_action",))
    write_manifest(paths, MANIFEST, {**expected_manifest(), "version": 1})
    assert not check_manifest(paths).passed
    outcome = migrate(paths)
    assert outcome.passed and outcome.details["migrations"] == ["1->2", "2->3"]
    assert check_manifest(paths).passed
    for f in paths.doc_type_dir("ws_event").glob("date=*/*.parquet"):  # not rewritten: the columns read as null
        assert not {"namespace", "ack_id", "socket_id"} & set(pq.read_schema(f).names)
    q = Query(paths)  # the query views carry the code's schema
    try:
        assert q.rows("SELECT DISTINCT socket_id, ack_id FROM ws_event") == [{"socket_id": None, "ack_id": None}]
    finally:
        q.close()
    # player_action derived again under v3: own orders typed, their acks unknown (no ack ids in v1 data)
    assert rows(paths, "player_action", "action_type, ack_json", "action_kind = 'order'") == [
        ("BUY", None), ("PARTIAL_SELL", None)]
