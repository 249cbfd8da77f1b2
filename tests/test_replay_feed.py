"""The replay feed's pre-encoded frames, seen by real python-socketio clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from conftest import FIXTURES, RAW_SAMPLES, free_port, wait_port

from vectra_capture.replay.server import MAX_BACKLOG, ReplayOptions, ReplayServer
from vectra_capture.replay.sources import ReplayEvent, load_recordings

RECORDINGS = [RAW_SAMPLES, FIXTURES / "raw" / "auth_examples", FIXTURES / "raw" / "auth_synthetic"]


def as_text(name: str, args: list[Any] | tuple[Any, ...]) -> str:
    """An event as JSON text: equal texts mean equal names, keys in the same order, ints still ints."""
    return json.dumps([name, *args])


async def collect(url: str, expected: int) -> list[str]:
    """Every event a bare python-socketio client decodes, in order, until `expected` arrived."""
    client = socketio.AsyncClient()
    got: list[str] = []
    done = asyncio.Event()

    @client.on("*")
    async def any_event(event: str, *args: Any) -> None:
        got.append(as_text(event, args))
        if len(got) >= expected:
            done.set()

    await client.connect(url, transports=["websocket"])
    await asyncio.wait_for(done.wait(), 120)
    await client.disconnect()
    return got


def test_a_bare_client_decodes_exactly_the_recorded_events_in_order(procs) -> None:
    """`vectra feed serve --speed 0` sends each frame pre-encoded; a bare python-socketio client must
    decode the very events the recordings hold (real samples, traced multi-argument events), in order,
    on every repetition."""
    recorded = [as_text(ev.event_name, ev.args) for ev in load_recordings(RECORDINGS).events]
    assert len(recorded) > 200 and len({json.loads(t)[0] for t in recorded}) >= 4
    port = free_port()
    feed = procs(["feed", "serve", "--port", str(port), "--speed", "0", "--repeat", "2", "--json",
                  *map(str, RECORDINGS)], "feed")
    wait_port(port)
    got = asyncio.run(collect(f"http://127.0.0.1:{port}", 2 * len(recorded)))
    assert feed.wait(60) == 0, feed.stderr()
    assert got == recorded * 2
    assert feed.json()["emitted"] == 2 * len(recorded)


def test_binary_and_odd_events_reach_every_client_as_recorded() -> None:
    """Events that are not plain JSON objects (a binary attachment, several arguments, no argument,
    non-ASCII text, big and small numbers) decode as emitted, and every connected client gets them:
    the second client, connected later, gets exactly the tail of the first one's sequence."""
    events = [
        ReplayEvent(None, "binaryEvent", [{"blob": b"\x00\xff\x10rugs", "n": 1}]),
        ReplayEvent(None, "noArgs", []),
        ReplayEvent(None, "manyArgs", [{"__trace": True}, "ünïcödé ✓", 12345678901234567890, 1e-7, None, [1.5, True]]),
        ReplayEvent(None, "gameStateUpdate", [{"price": 1.0000000000000002, "tickCount": 3}]),
    ]
    rounds = 500

    async def run() -> tuple[list[list[Any]], list[list[Any]], dict]:
        port = free_port()
        server = ReplayServer(events, ReplayOptions(port=port, speed=0, repeat=rounds))
        task = asyncio.create_task(server.run())
        first: list[list[Any]] = []
        second: list[list[Any]] = []
        clients = [socketio.AsyncClient(), socketio.AsyncClient()]
        for client, got in zip(clients, (first, second), strict=True):
            client.on("*", lambda event, *args, got=got: got.append([event, *args]))
        while server.port is None:
            await asyncio.sleep(0.01)
        await clients[0].connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        while not first:
            await asyncio.sleep(0.001)
        await clients[1].connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        summary = await task
        for client in clients:
            await client.disconnect()
        return first, second, summary.to_dict()

    first, second, summary = asyncio.run(run())
    expected = [[ev.event_name, *ev.args] for ev in events] * rounds
    assert summary["emitted"] == len(expected) and summary["clients_seen"] == 2
    assert first == expected
    assert first[0][1]["blob"] == b"\x00\xff\x10rugs" and isinstance(first[0][1]["blob"], bytes)
    assert 0 < len(second) < len(expected) and second == expected[-len(second):]


def test_a_looping_feed_waits_for_a_client_that_stops_reading(tmp_path: Path) -> None:
    """At --speed 0 the feed queues at most MAX_BACKLOG (+ one check interval) frames to a client that
    does not read, instead of looping into unbounded memory; once it reads again the frames carry
    on in recorded order."""
    events = load_recordings([RAW_SAMPLES]).events
    texts = [as_text(ev.event_name, ev.args) for ev in events]

    async def run() -> tuple[int, int, int, list[str]]:
        port = free_port()
        server = ReplayServer(events, ReplayOptions(port=port, speed=0, loop=True))
        task = asyncio.create_task(server.run())
        while server.port is None:
            await asyncio.sleep(0.01)
        peak = 0
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", max_msg_size=0) as ws:
            assert (await ws.receive_str()).startswith("0")
            await ws.send_str("40")
            for _ in range(200):  # 2 s of not reading
                await asyncio.sleep(0.01)
                peak = max([peak, *(s.queue.qsize() for s in server.sio.eio.sockets.values())])
            emitted_while_paused = server.summary.emitted
            got: list[str] = []
            # read until the feed has gone on well past where it stalled (the frames already in the
            # queue and the socket buffers come first)
            while len(got) < 3 * len(texts) or server.summary.emitted <= emitted_while_paused + len(texts):
                msg = await ws.receive_str()
                if msg.startswith("42"):
                    got.append(json.dumps(json.loads(msg[2:])))
        server.stop()
        await task
        return peak, emitted_while_paused, server.summary.emitted, got

    peak, paused, emitted, got = asyncio.run(asyncio.wait_for(run(), 300))
    assert 0 < peak <= MAX_BACKLOG + 64
    assert paused < 20 * len(texts)  # it stalled while the client did not read (unchecked: ~14 k in 2 s)
    assert emitted > paused  # and went on once it read again
    start = texts.index(got[0])
    assert got == [texts[(start + i) % len(texts)] for i in range(len(got))]
