"""The browser capture's pure parts: redaction, the CDP clock, the endpoint check, the live player
state, and what the replay feed serves for the browser (its page, the single-event captures)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path

import aiohttp
import pytest
from conftest import FIXTURES, free_port

from vectra_capture.cdp.clock import BrowserClock
from vectra_capture.cdp.endpoint import CdpEndpointError, check_cdp_url, is_loopback_host
from vectra_capture.cdp.redact import Redactor, fingerprint
from vectra_capture.live_state import LiveState
from vectra_capture.replay.server import ReplayOptions, ReplayServer
from vectra_capture.replay.sources import load_recordings
from vectra_capture.urls import redact_url


def _fp(text: str) -> str:
    return f"<redacted sha256:{hashlib.sha256(text.encode()).hexdigest()[:12]}>"


def test_credentials_in_sent_packets_are_fingerprinted() -> None:
    r = Redactor()
    assert r.packet('21["authenticate",{"token":"abc"}]') == f'21["authenticate",{{"token":"{_fp("abc")}"}}]'
    # nested, any case, any credential-like key; other values (numbers as written) untouched
    out = r.packet('2/game,7["login",{"auth":{"Authorization":"Bearer x","userSecret":"s"},'
                   '"amount":0.30000000000000004,"n":12345678901234567891,"big":1E+400}]')
    assert out.startswith("2/game,7[")
    assert json.loads(out[out.index("["):], parse_float=str, parse_int=str) == ["login", {
        "auth": {"Authorization": _fp("Bearer x"), "userSecret": _fp("s")},
        "amount": "0.30000000000000004", "n": "12345678901234567891", "big": "1E+400"}]
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert r.packet(f'2["authenticate","{jwt}"]') == f'2["authenticate","{_fp(jwt)}"]'  # a bare JWT too
    assert r.redacted == 4
    for untouched in ('2["buyOrder",{"__trace":true,"traceparent":"00-ab-cd-01"},{"amount":0.002}]', "2probe", "3",
                      '2["x",{"token":null}]', '2["broken",{"token":"abc"'):
        assert r.packet(untouched) == untouched
    assert r.redacted == 4
    assert Redactor(("wallet",)).packet('2["x",{"walletAddress":"w","token":"t"}]') == \
        f'2["x",{{"walletAddress":"{_fp("w")}","token":"t"}}]'  # configurable keys
    assert fingerprint({"a": 1}) == _fp('{"a":1}')


def test_socket_urls_lose_userinfo_and_credential_query_values() -> None:
    """The browser's socket and page URLs go through the one URL redaction (vectra_capture/urls.py)."""
    assert redact_url("wss://user:pw@backend.rugs.fun/socket.io/?frontend-version=1.0&EIO=4&transport=websocket") == \
        "wss://REDACTED@backend.rugs.fun/socket.io/?frontend-version=1.0&EIO=4&transport=websocket"
    out = redact_url("https://x.test/p?token=abc&a=1#f")
    assert "abc" not in out and out.startswith("https://x.test/p?token=") and out.endswith("&a=1#f")


def test_cdp_timestamps_map_to_wall_time() -> None:
    clock = BrowserClock()
    # before any (timestamp, wallTime) pair: the smallest arrival - timestamp seen is the offset
    assert clock.wall_us(100.0, arrived=1_000_100.5) == 1_000_100_500_000
    assert clock.wall_us(101.0, arrived=1_000_101.2) == 1_000_101_200_000  # a faster delivery tightens it
    assert clock.wall_us(100.0, arrived=1_000_200.0) == 1_000_100_200_000  # a slow one does not loosen it
    clock.pair(200.0, 2_000_000.25)  # the browser's own wall clock at a handshake: exact from now on
    assert clock.wall_us(201.5, arrived=9e9) == 2_000_001_750_000


def test_only_loopback_endpoints_unless_allowed() -> None:
    for ok in ("http://127.0.0.1:9222", "http://localhost:9222/", "http://[::1]:9222", "ws://127.0.0.2:1/devtools/x"):
        assert check_cdp_url(ok) == ok.rstrip("/")
    for bad in ("http://10.0.0.1:9222", "http://example.com:9222", "http://0.0.0.0:9222", "http://[::]:9222"):
        with pytest.raises(CdpEndpointError, match="non-loopback"):
            check_cdp_url(bad)
        assert check_cdp_url(bad, allow_remote=True)
    for nonsense in ("127.0.0.1:9222", "ftp://127.0.0.1/", "http://:9222"):
        with pytest.raises(CdpEndpointError):
            check_cdp_url(nonsense)
    assert is_loopback_host("LOCALHOST") and not is_loopback_host(None)


def test_live_player_is_exact_and_goes_stale_with_its_socket() -> None:
    live = LiveState()
    live.observe("usernameStatus", {}, 1.0, json_text='["usernameStatus",{"__trace":true},{"id":"did:privy:p","username":"Dutch"}]',
                 socket_id="s1")
    text = '["playerUpdate",{"id":"did:privy:p","cash":0.30000000000000004,"positionQty":12345678901234567891,"avgCost":1E-7,' \
           '"cumulativePnL":-0.25,"pnlPercent":-98.8856}]'
    live.observe("playerUpdate", json.loads(text)[-1], 1_766_007_249.5, json_text=text, socket_id="s1")
    player = live.to_dict()["player"]
    assert player == {"id": "did:privy:p", "username": "Dutch", "cash": "0.30000000000000004",
                      "position_qty": "12345678901234567891", "avg_cost": "1E-7", "pnl": "-0.25",
                      "pnl_percent": "-98.8856", "updated_at": "2025-12-17T21:34:09.500000+00:00", "stale": False}
    live.mark_stale("another-socket")
    assert live.player["stale"] is False
    live.mark_stale("s1")
    assert live.player["stale"] is True
    live.observe("playerUpdate", {}, 2.0, json_text='["playerUpdate",{"id":"did:privy:other","cash":1}]', socket_id="s2")
    assert live.player["id"] == "did:privy:other" and live.player["username"] is None  # another player: no carry-over


def test_single_event_captures_replay_in_seq_order() -> None:
    rec = load_recordings([FIXTURES / "raw" / "auth_examples", FIXTURES / "raw" / "auth_synthetic"])
    names = [e.event_name for e in rec.events]
    assert names == ["usernameStatus", "gameStatePlayerUpdate", "playerUpdate", "gameStatePlayerUpdate",
                     "playerUpdate", "gameStateUpdate", "gameStatePlayerUpdate"]
    username = rec.events[0]
    assert username.args[0]["__trace"] is True and username.args[-1]["username"] == "Dutch"  # traced: payload last


def test_the_feed_serves_its_client_page_and_acks_requests(tmp_path: Path) -> None:
    async def run() -> tuple[str, str, dict, list[str]]:
        port = free_port()
        rec = load_recordings([FIXTURES / "raw" / "auth_synthetic"])
        server = ReplayServer(rec.events, ReplayOptions(port=port, speed=0))
        task = asyncio.create_task(server.run())
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/") as resp:
                        page = await resp.text()
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            async with http.get(f"http://127.0.0.1:{port}/client.js") as resp:
                script = await resp.text()
            # speak Engine.IO v4 / Socket.IO v4 like the page does, over a plain websocket
            got: list[str] = []
            async with http.ws_connect(f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket") as ws:
                got.append((await ws.receive_str())[0])
                await ws.send_str("40")
                await ws.send_str('427["buyOrder",{"__trace":true},{"amount":0.002}]')
                await ws.send_str('428["ping",{"lastPing":1}]')
                async for msg in ws:
                    got.append(msg.data)
                    if msg.data == "1":
                        break
        summary = await task
        return page, script, summary.to_dict(), got

    page, script, summary, got = asyncio.run(run())
    assert 'src="client.js"' in page and not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "new WebSocket(" in script and "EIO=4&transport=websocket" in script and "http" not in script.replace(
        "https:", "")  # nothing loaded from outside
    assert summary["requests"] == {"buyOrder": 1, "ping": 1} and summary["emitted"] == 1
    assert '437[{"success":true}]' in got and "438[]" in got
    assert any(f.startswith('42["usernameStatus"') for f in got)
