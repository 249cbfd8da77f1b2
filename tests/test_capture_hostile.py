"""A hostile Engine.IO v4 server on 127.0.0.1 sends every kind of odd frame between numbered good
ones to the real capture daemon (`vectra capture`, a subprocess): every good frame lands once and in
order, every odd one is in ws_event or in quarantine with its reason, and the connection never drops.
Only a message beyond aiohttp's ceiling (16 x the limit) costs the connection, and that is recorded."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from aiohttp import WSMsgType, web
from capture_helpers import rows
from conftest import VECTRA, free_port, wait_for, wait_port
from hostile_helpers import BIG, HUGE, LIMIT, N_GOOD, HostileServer, expected, good

from vectra_capture.client import WS_CEILING_FACTOR, CaptureClient
from vectra_capture.frames import QUARANTINE_HEAD_BYTES, Frame, Quarantined
from vectra_capture.status import read_status
from vectra_capture.store.layout import DataPaths


def test_every_odd_frame_lands_and_the_connection_holds(procs, tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    port = free_port()
    server = HostileServer(port)
    server.start()
    try:
        wait_port(port)
        daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(paths.root),
                        "--max-frame-bytes", str(LIMIT)], "daemon")
        assert server.sent_all.wait(90), daemon.stderr()
        assert server.error is None, server.error
        want = expected()

        def all_received() -> bool:
            try:
                return read_status(paths).get("received") == len(want)
            except Exception:
                return False

        assert wait_for(all_received, 60), (read_status(paths), daemon.stderr()[-3000:])
        status = read_status(paths)
        shown = subprocess.run([*VECTRA, "status", "--data-dir", str(paths.root)], capture_output=True, text=True)
        assert daemon.stop() == 0, daemon.stderr()
    finally:
        server.stop()

    # The server's ping was answered: Engine.IO control packets still reach python-engineio.
    assert "3" in server.from_client
    control = status["control_packets"]
    assert control["open"] == 1 and control["connect"] >= 2  # received 40 and sent 40
    assert control["ping"] == 1 and control["noop"] == 1 and control["upgrade"] == 1
    assert "noop=1" in shown.stdout and "ping=1" in shown.stdout, shown.stdout + shown.stderr

    ws = rows(paths, "ws_event", "seq, event_name, raw_json, namespace, ack_id, direction",
              "direction = 'received'")
    quarantined = sorted(pq.read_table(list(paths.quarantine.rglob("*.parquet"))).to_pylist(), key=lambda q: q["seq"])
    merged = sorted([(r[0], "ws", r) for r in ws] + [(q["seq"], "q", q) for q in quarantined], key=lambda t: t[0])
    assert len(merged) == len(want)
    for (_seq, kind, row), (want_kind, what) in zip(merged, want, strict=True):
        assert kind == want_kind, (row, what)
        if kind == "ws":
            assert row[1] == what, (row[:2], what)
        else:
            assert what in row["reason"], (row["reason"], what)
            assert row["origin"] == "socket:received"

    # Every good frame exactly once, in order.
    goods = [json.loads(r[2])[1]["n"] for r in ws if r[1] == "good"]
    assert goods == list(range(N_GOOD))
    by_name = {r[1]: r for r in ws if r[1] != "__ack__"}
    assert by_name["binEvt"][2] == '["binEvt",{"_placeholder":true,"num":0,"base64":"AAH+/w=="}]'
    assert by_name["bigEvt"][2] == BIG[2:]
    assert by_name["nsEvt"][3] == "/admin" and by_name["nsEvt"][4] is None
    assert by_name["askEvt"][3] is None and by_name["askEvt"][4] == 17
    assert by_name["good"][3] is None and by_name["good"][4] is None
    acks = {r[4]: r for r in ws if r[1] == "__ack__"}
    assert acks[99][2] == '["answer"]' and acks[99][3] is None
    assert acks[5][3] == "/admin" and acks[5][2] == '[{"_placeholder":true,"num":0,"base64":"YWNrLWJ5dGVz"}]'

    # Quarantined bytes are the messages as received; a frame over the limit keeps its head and says its size.
    raws = {q["raw"] for q in quarantined}
    assert {b'42["bad\xff\xfe"]', b"", b"9hello", b"xyz", b'47["what"]', b"\x00stray", b"only-one"} <= raws
    huge = next(q for q in quarantined if "hugeEvt" in q["reason"])
    assert str(len(HUGE)) in huge["reason"] and huge["raw"] == HUGE.encode()[:QUARANTINE_HEAD_BYTES]

    # One connection from start to stop: no reconnect, and the only disconnect is the daemon's own at SIGTERM.
    system = rows(paths, "system_event", "seq, event_name, raw_json")
    names = [s[1] for s in system]
    assert names.count("connect") == 1 and "reconnect_attempt" not in names and "connect_error" not in names
    last_frame = merged[-1][0]
    for seq, name, raw in system:
        if name == "disconnect":
            assert seq > last_frame and json.loads(raw)["reason"] == "client disconnect", raw
    connect_seq = next(s[0] for s in system if s[1] == "connect")
    assert connect_seq < merged[0][0]  # recorded in wire order, before the frames that follow it


async def _beyond_the_ceiling() -> list:
    """A message larger than WS_CEILING_FACTOR x the frame limit: aiohttp closes the socket (1009)."""
    port = free_port()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str('0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}')
        async for msg in ws:
            if msg.type is WSMsgType.TEXT and msg.data.startswith("40"):
                await ws.send_str('40{"sid":"n"}')
                await ws.send_str(good(0))
                await ws.send_str('42["giant","' + "z" * (1024 * WS_CEILING_FACTOR + 1) + '"]')
        return ws

    app = web.Application()
    app.router.add_get("/socket.io/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    items: list = []
    client = CaptureClient(lambda item, direction: items.append(item), max_frame_bytes=1024)
    await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
    for _ in range(200):
        if any(isinstance(i, Quarantined) for i in items):
            break
        await asyncio.sleep(0.02)
    await client.disconnect()
    await runner.cleanup()
    return items


def test_a_message_beyond_the_ceiling_is_recorded_not_silent() -> None:
    items = asyncio.run(_beyond_the_ceiling())
    assert [i.event_name for i in items if isinstance(i, Frame)] == ["good"]
    (lost,) = [i for i in items if isinstance(i, Quarantined)]
    assert "websocket error, the connection is lost" in lost.reason and "exceeds limit" in lost.reason, lost.reason
