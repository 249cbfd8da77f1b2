"""CaptureClient hands every frame to its callback verbatim: received events before
python-socketio decodes them, and the frames it sends itself (direction `sent`)."""

from __future__ import annotations

import asyncio
import json

import socketio
from aiohttp import web
from conftest import free_port

from vectra_capture.client import CaptureClient


async def _exchange() -> tuple[list[tuple[object, str]], list[tuple[str, object]]]:
    port = free_port()
    server = socketio.AsyncServer(async_mode="aiohttp")
    app = web.Application()
    server.attach(app)
    server_got: list[tuple[str, object]] = []

    @server.on("buyOrder")
    async def buy_order(sid: str, data: object) -> dict:
        server_got.append(("buyOrder", data))
        await server.emit("standard/newTrade", ({"__trace": True}, {"id": "t1", "amount": 0.1}), to=sid)
        return {"ok": True}

    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    frames: list[tuple[object, str]] = []
    acked = asyncio.Event()
    client = CaptureClient(lambda data, direction: frames.append((data, direction)) or False)
    await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
    await client.emit("buyOrder", {"amount": 0.1}, callback=lambda *a: acked.set())
    await asyncio.wait_for(acked.wait(), 10)
    for _ in range(100):
        if any(isinstance(f, str) and "newTrade" in f for f, _ in frames):
            break
        await asyncio.sleep(0.02)
    await client.disconnect()
    await runner.cleanup()
    return frames, server_got


def test_sent_and_received_frames_reach_the_callback() -> None:
    frames, server_got = asyncio.run(_exchange())
    assert server_got == [("buyOrder", {"amount": 0.1})]  # the hook did not swallow the emit
    sent = [f for f, d in frames if d == "sent"]
    assert len(sent) == 1 and json.loads(sent[0][sent[0].index("["):]) == ["buyOrder", {"amount": 0.1}]
    received = [f for f, d in frames if d == "received" and isinstance(f, str)]
    trade = next(f for f in received if "newTrade" in f)
    assert json.loads(trade[1:]) == ["standard/newTrade", {"__trace": True}, {"id": "t1", "amount": 0.1}]
    assert any(f.startswith("3") and '"ok"' in f for f in received)  # the server's ack, verbatim
