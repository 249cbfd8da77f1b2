"""Malformed frames from a real (raw Engine.IO) server are quarantined and counted; the daemon
keeps capturing the good frames around them."""

from __future__ import annotations

import asyncio
import json

import engineio
import pyarrow.parquet as pq
from aiohttp import web
from capture_helpers import rows
from conftest import free_port

from vectra_capture.daemon import CaptureConfig, CaptureDaemon
from vectra_capture.store.layout import DataPaths

GOOD = '2["gameStateUpdate",{"gameId":"20251207-aaaa","cooldownTimer":5000,"allowPreRoundBuys":true}]'
# A JavaScript server cuts an emoji in half: a JSON-escaped lone surrogate. It must land, not kill the writer.
HALF_EMOJI = '2["newChatMessage",{"username":"ab\\ud83d","message":"hi"}]'
BAD = [
    ("2{not json", "invalid JSON"),
    ('2["truncated", {"a": 1', "invalid JSON"),
    ("2[42]", "event name"),
    ('2{"an":"object"}', "not an array"),
    ("9what", "unknown packet type"),
    (b"\x00\x01binary", "not a text frame"),
    ("2" + json.dumps(["huge", "x" * 5000]), "exceeds"),
]


async def _run(data_dir: DataPaths) -> dict:
    port = free_port()
    eio = engineio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    eio.attach(app, engineio_path="socket.io")

    @eio.on("message")
    async def message(sid: str, data: str) -> None:
        if data.startswith("0"):  # the client's Socket.IO CONNECT: answer it, then misbehave
            await eio.send(sid, '0{"sid":"fake"}')
            await eio.send(sid, GOOD)
            for frame, _ in BAD:
                await eio.send(sid, frame)
            await eio.send(sid, GOOD.replace("aaaa", "bbbb"))
            await eio.send(sid, HALF_EMOJI)

    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    daemon = CaptureDaemon(CaptureConfig(url=f"http://127.0.0.1:{port}", data_dir=data_dir, max_frame_bytes=1000))
    task = asyncio.create_task(daemon.run())
    for _ in range(200):
        await asyncio.sleep(0.05)
        if daemon.received >= len(BAD) + 3:
            break
    daemon.request_stop()
    final = await task
    if eio.sockets:
        await eio.disconnect()
    await runner.cleanup()
    return final


def test_bad_frames_are_quarantined_with_reasons(tmp_path) -> None:
    paths = DataPaths(tmp_path / "data")
    final = asyncio.run(_run(paths))
    assert final["received"] == len(BAD) + 3
    assert final["written"] == 3 and final["quarantined"] == len(BAD)
    landed = rows(paths, "ws_event", "game_id, username, raw_json")
    assert [r[0] for r in landed] == ["20251207-aaaa", "20251207-bbbb", None]
    assert landed[2][1] == "ab\ufffd" and landed[2][2] == HALF_EMOJI[1:]
    quarantined = pq.read_table(list(paths.quarantine.rglob("*.parquet"))).to_pylist()
    assert len(quarantined) == len(BAD)
    by_raw = {q["raw"]: q["reason"] for q in quarantined}
    for frame, reason in BAD:
        raw = frame if isinstance(frame, bytes) else b"4" + frame.encode()  # the WebSocket message verbatim
        assert reason in by_raw[raw], (frame[:30], by_raw.get(raw))
    assert {q["origin"] for q in quarantined} == {"socket:received"}
