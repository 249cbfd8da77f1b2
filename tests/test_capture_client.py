"""CaptureClient hands every WebSocket message, decoded by frames.FrameDecoder, to its callback:
received events verbatim (taken at the websocket, before python-engineio / python-socketio see
them), and the packets it sends itself (direction `sent`); acks still reach their callbacks."""

from __future__ import annotations

import asyncio
import json

import pytest
import socketio
from aiohttp import web
from conftest import free_port

from vectra_capture.client import CaptureClient
from vectra_capture.frames import Control, Decoded, Frame


async def _exchange(transport: str) -> tuple[list[tuple[Decoded, str]], list[tuple[str, object]]]:
    port = free_port()
    # short pings: a long-polling client's disconnect waits for its pending poll to return
    server = socketio.AsyncServer(async_mode="aiohttp", ping_interval=1, ping_timeout=1)
    app = web.Application()
    server.attach(app)
    server_got: list[tuple[str, object]] = []

    @server.on("buyOrder")
    async def buy_order(sid: str, data: object) -> dict:
        server_got.append(("buyOrder", data))
        await server.emit("binEvt", {"blob": b"\x00\x01\xff"}, to=sid)  # a binary event: header + attachment
        await server.emit("standard/newTrade", ({"__trace": True}, {"id": "t1", "amount": 0.1}), to=sid)
        return {"ok": True}

    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    frames: list[tuple[Decoded, str]] = []
    acked = asyncio.Event()
    client = CaptureClient(lambda item, direction: frames.append((item, direction)))
    await client.connect(f"http://127.0.0.1:{port}", transports=[transport])
    await client.emit("buyOrder", {"amount": 0.1}, callback=lambda *a: acked.set())
    await asyncio.wait_for(acked.wait(), 10)
    for _ in range(100):
        if any(isinstance(f, Frame) and f.event_name == "standard/newTrade" for f, _ in frames):
            break
        await asyncio.sleep(0.02)
    await client.disconnect()
    await runner.cleanup()
    return frames, server_got


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_sent_and_received_frames_reach_the_callback(transport: str) -> None:
    frames, server_got = asyncio.run(_exchange(transport))
    assert server_got == [("buyOrder", {"amount": 0.1})]  # the hook did not swallow the emit
    sent = [f for f, d in frames if d == "sent" and isinstance(f, Frame)]
    assert len(sent) == 1 and json.loads(sent[0].json_text) == ["buyOrder", {"amount": 0.1}]
    assert sent[0].ack_id is not None and sent[0].namespace is None
    received = [f for f, d in frames if d == "received" and isinstance(f, Frame)]
    trade = next(f for f in received if f.event_name == "standard/newTrade")
    assert json.loads(trade.json_text) == ["standard/newTrade", {"__trace": True}, {"id": "t1", "amount": 0.1}]
    ack = next(f for f in received if f.packet_type == "ack")
    assert json.loads(ack.json_text) == [{"ok": True}] and ack.ack_id == sent[0].ack_id  # pairable by ack id
    binary = next(f for f in received if f.event_name == "binEvt")
    assert json.loads(binary.json_text) == ["binEvt", {"blob": {"_placeholder": True, "num": 0, "base64": "AAH/"}}]
    assert [f for f, _ in frames if not isinstance(f, Frame | Control)] == []  # nothing quarantined
    controls = {(f.kind, d) for f, d in frames if isinstance(f, Control)}
    assert {("connect", "received"), ("connect", "sent")} <= controls
    if transport == "websocket":  # taken at the websocket: Engine.IO packets are seen too
        assert ("open", "received") in controls
