"""The Protocol Explorer in real headless Chromium: every page renders its content (checked in the DOM
after scripts ran), 404s and bad filters are pages with a message, the verification form persists across
an explorer restart, cross-site POSTs are refused, and the live page shows each frame the local feed emits
(real `vectra feed serve` + `vectra capture` processes) within 2 s while the spool rolls into Parquet."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import psutil
import pyarrow.parquet as pq
import pytest
from browser import Chromium
from capture_helpers import write_numbered_capture
from conftest import RAW_SAMPLES, Proc, free_port, wait_port
from pipeline_helpers import parsed_events
from service_helpers import derived_root

from vectra_capture.protocol.catalog import read_verifications
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.query import Query

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "explorer.png"  # refreshed only with VECTRA_UPDATE_SCREENSHOT=1
AUTH_PLAYER = next((ROOT / "tests" / "fixtures" / "raw" / "auth_examples").glob("*_playerUpdate.json"))


@pytest.fixture(scope="module")
def root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    return derived_root(request, tmp_path_factory.mktemp("explorer"), index=True)


class Explorer:
    """`vectra explorer` as a real process."""

    def __init__(self, data: Path, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.data = data
        self.workdir = workdir
        self.runs = 0
        self.proc: Proc | None = None

    def start(self) -> Explorer:
        self.runs += 1
        self.proc = Proc(["explorer", "--port", str(self.port), "--data-dir", str(self.data)], self.workdir,
                         f"explorer{self.runs}")
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            assert self.proc.stop() == 0, self.proc.stderr()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def http(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 600))


def test_every_page_renders_its_content(root: DataPaths, tmp_path: Path) -> None:
    events = parsed_events(captured_only=False)
    counts = Counter(n for n, _ in events)
    n_games = sum(pq.ParquetFile(f).metadata.num_rows for f in root.doc_type_dir("games").glob("date=*/*.parquet"))
    game_id, n_trades = Counter(p["gameId"] for n, p in events if n == "standard/newTrade").most_common(1)[0]
    explorer = Explorer(root.root, tmp_path).start()

    async def main() -> None:
        async with Chromium(tmp_path, free_port()) as browser:
            page = await browser.page()

            await page.goto(explorer.url("/"))
            holdings = await page.eval("[...document.querySelectorAll('#holdings td:first-child')].map(td => td.textContent)")
            assert {"ws_event", "game_tick", "games"} <= set(holdings)
            assert await page.eval("document.querySelector('#player').textContent.includes('not logged in')")
            assert await page.eval("document.getElementById('live-badge').textContent") == "not capturing"
            await page.screenshot(tmp_path / "overview.png")

            await page.goto(explorer.url("/events"))
            rows = await page.eval("Object.fromEntries([...document.querySelectorAll('table.events tbody tr')]"
                                   ".map(tr => [tr.cells[0].querySelector('a').textContent, tr.cells[3].textContent]))")
            for name, n in counts.items():
                assert rows[name] == f"{n:,}", name
            await page.screenshot(tmp_path / "events.png")

            await page.goto(explorer.url("/events/" + quote("standard/newTrade", safe="")))
            assert await page.eval("document.querySelector('h1').textContent") == "standard/newTrade"
            assert await page.eval("document.querySelectorAll('#samples details').length") == 3
            sample = await page.eval("document.querySelector('#samples pre').textContent")
            assert json.loads(sample)["id"] in {p["id"] for n, p in events if n == "standard/newTrade"}
            fields = await page.eval("[...document.querySelectorAll('table.fields tbody td:first-child')]"
                                     ".map(td => td.textContent)")
            assert {"id", "gameId", "playerId", "price", "type", "tickIndex"} <= set(fields)
            await page.screenshot(tmp_path / "event.png")

            await page.goto(explorer.url("/games?limit=500"))
            assert await page.eval("document.querySelectorAll('table.games tbody tr').length") == n_games
            await page.screenshot(tmp_path / "games.png")

            await page.goto(explorer.url("/games/" + game_id))
            assert await page.eval("document.querySelectorAll('svg.chart circle.trade').length") == n_trades
            assert await page.eval("document.querySelector('svg.chart polyline.price').getAttribute('points')"
                                   ".split(' ').length") > 1
            assert await page.eval("document.querySelectorAll('table.trades tbody tr').length") == n_trades
            await page.screenshot(tmp_path / "game.png")

            q = urlencode({"q": "the logged-in player's cash balance, position and PnL", "table": "events"})
            await page.goto(explorer.url("/search?" + q))
            hrefs = await page.eval("[...document.querySelectorAll('#hits li')].slice(0, 3)"
                                    ".map(li => [...li.querySelectorAll('a')].map(a => a.getAttribute('href')))")
            assert ["/events/playerUpdate"] in hrefs
            await page.screenshot(tmp_path / "search.png")

            await page.goto(explorer.url("/live"))
            assert await page.eval("document.getElementById('pause').hidden") is False  # the script ran
            await page.wait_for("document.getElementById('live-state').textContent.startsWith('live')")

    run(main())
    status, body = http(explorer.url("/api/events/playerUpdate"))
    assert status == 200 and json.loads(body)["count"] == counts["playerUpdate"]
    status, body = http(explorer.url(f"/api/games/{game_id}"))
    assert status == 200 and len(json.loads(body)["trades"]) == n_trades
    explorer.stop()


def test_not_found_and_bad_filters_are_pages_with_a_message(root: DataPaths, tmp_path: Path) -> None:
    explorer = Explorer(root.root, tmp_path).start()
    for path in ("/events/noSuchEvent", "/games/20990101-ffffffffffffffff", "/nowhere", "/games/..%2F..%2Fetc"):
        status, body = http(explorer.url(path))
        assert status == 404 and 'id="error-message"' in body and "Traceback" not in body, path
    status, body = http(explorer.url("/events/standard/newTrade"))  # typed without encoding: still found
    assert status == 200 and "<h1>standard/newTrade</h1>" in body
    status, body = http(explorer.url("/api/games/nope"))
    assert status == 404 and json.loads(body)["error"].startswith("unknown game")
    status, body = http(explorer.url("/search?" + urlencode({"q": "trade", "where": "price > 2"})))
    assert status == 400 and "unknown column" in body
    status, body = http(explorer.url("/api/search?" + urlencode({"q": "trade", "table": "nope"})))
    assert status == 400 and "unknown table" in json.loads(body)["error"]
    status, _ = http(explorer.url("/games?offset=abc"))
    assert status == 400
    status, _ = http(explorer.url("/"), headers={"Host": "evil.example:80"})
    assert status == 421  # DNS rebinding: only the loopback names are served

    async def main() -> None:
        async with Chromium(tmp_path, free_port()) as browser:
            page = await browser.page()
            await page.goto(explorer.url("/events/noSuchEvent"))
            assert "unknown event 'noSuchEvent'" in await page.eval("document.getElementById('error-message').textContent")
            await page.goto(explorer.url("/search?" + urlencode({"q": "trade", "where": "event_name = = 'x'"})))
            assert (await page.eval("document.getElementById('search-error').textContent")).startswith("bad filter")
            await page.screenshot(tmp_path / "bad-filter.png")

    run(main())
    explorer.stop()


def test_verification_survives_a_restart_and_cross_site_posts_are_refused(root: DataPaths, tmp_path: Path) -> None:
    explorer = Explorer(root.root, tmp_path).start()
    attacker_dir = tmp_path / "attacker"
    attacker_dir.mkdir()
    attacker_port = free_port()
    (attacker_dir / "index.html").write_text(
        f'<form id="f" method="post" action="{explorer.url("/events/newSideBet/verify")}">'
        '<input name="status" value="needs-correction"><input name="note" value="pwned"><input name="csrf" value="x">'
        '</form><script>document.getElementById("f").submit()</script>')
    attacker = subprocess.Popen(  # another origin (same host, other port: "same-site", not same-origin)
        [sys.executable, "-m", "http.server", str(attacker_port), "--bind", "127.0.0.1", "--directory",
         str(attacker_dir)], stdout=open(tmp_path / "attacker.out", "w"), stderr=subprocess.STDOUT)  # noqa: SIM115
    wait_port(attacker_port)

    async def mark_verified() -> None:
        async with Chromium(tmp_path, free_port()) as browser:
            page = await browser.page()
            await page.send("Page.navigate", {"url": f"http://127.0.0.1:{attacker_port}/index.html"})  # submits itself
            await page.wait_for("location.pathname.endsWith('/verify')")
            await page.wait_for("document.readyState === 'complete' && !!document.getElementById('error-message')")
            refused = await page.eval("document.getElementById('error-message').textContent")
            assert refused.startswith("cross-site request refused"), refused

            await page.goto(explorer.url("/events/newSideBet"))
            await page.eval("document.querySelector('form.verify select').value = 'verified';"
                            "document.querySelector('form.verify input[name=note]').value = 'seen in a logged-in capture';"
                            "document.querySelector('form.verify').submit(); true")
            await page.wait_for("location.search === '?saved=1' && document.readyState === 'complete'")
            assert await page.eval("document.getElementById('verification').textContent") == "verified"

    run(mark_verified())
    stored = read_verifications(root)["newSideBet"]
    assert stored.status == "verified" and stored.note == "seen in a logged-in capture" and stored.updated_at
    # a request with the right token from another origin is refused too (the token alone is not enough)
    _, page_html = http(explorer.url("/events/newSideBet"))
    token = re.search(r'name="csrf" value="([^"]+)"', page_html)[1]
    status, _ = http(explorer.url("/api/events/newSideBet/verify"), json.dumps({"status": "unverified"}).encode(),
                     {"Content-Type": "application/json", "X-CSRF-Token": token, "Origin": "http://evil.example"})
    assert status == 403 and read_verifications(root)["newSideBet"].status == "verified"

    explorer.stop()
    explorer.start()  # a new process: new token, same manifest

    async def after_restart() -> None:
        async with Chromium(tmp_path, free_port()) as browser:
            page = await browser.page()
            await page.goto(explorer.url("/events/newSideBet"))
            assert await page.eval("document.getElementById('verification').textContent") == "verified"
            assert await page.eval("document.getElementById('verification-note').textContent") == \
                "seen in a logged-in capture"
            await page.goto(explorer.url("/events"))
            row = await page.eval("[...document.querySelectorAll('table.events tbody tr')]"
                                  ".find(tr => tr.cells[0].textContent.startsWith('newSideBet')).cells[6].textContent")
            assert row.startswith("verified")

    run(after_restart())
    status, _ = http(explorer.url("/api/events/newSideBet/verify"), json.dumps({"status": "unverified"}).encode(),
                     {"Content-Type": "application/json", "X-CSRF-Token": token})
    assert status == 403  # the old process's token died with it
    explorer.stop()
    attacker.terminate()
    attacker.wait()


def write_mixed_recording(path: Path, n: int) -> None:
    """n numbered trades 0.25 s apart (each traceable end to end by its `n`), and between each two a real
    frame of the fixture (game states, trades, chat), so the page looks like the feed."""
    numbered = path.with_suffix(".numbered")
    write_numbered_capture(numbered, n, datetime(2025, 12, 7, 12), interval=0.25)
    real = [json.loads(line) for line in RAW_SAMPLES.read_text().splitlines()]
    real = [r for r in real if len(json.dumps(r)) < 20_000]  # not the 300 KB transition payloads
    with open(path, "w") as fh:
        for i, line in enumerate(numbered.read_text().splitlines()):
            trade = json.loads(line)
            fh.write(json.dumps({**trade, "seq": 2 * i}) + "\n")
            sample = real[i % len(real)]
            ts = (datetime.fromisoformat(trade["ts"]) + timedelta(seconds=0.125)).isoformat()
            fh.write(json.dumps({"seq": 2 * i + 1, "ts": ts, "event": sample["event_type"], "data": sample["data"]})
                     + "\n")


def test_live_page_shows_each_frame_within_two_seconds(tmp_path: Path) -> None:
    """Feed -> daemon (rolling its spool into Parquet every 2 s) -> explorer -> browser, and `vectra tail`."""
    n_events = 48
    recording = tmp_path / "numbered.jsonl"
    write_mixed_recording(recording, n_events)
    player = json.loads(AUTH_PLAYER.read_text())  # a logged-in frame last: the overview's player panel
    with open(recording, "a") as fh:
        fh.write(json.dumps({**player, "seq": 2 * n_events, "ts": "2025-12-07T12:00:12.500000"}) + "\n")
    cash = re.search(r'"cash": ([0-9.eE+-]+)', AUTH_PLAYER.read_text())[1]  # the text the server sent
    data = tmp_path / "data"
    explorer = Explorer(data, tmp_path).start()
    feed_port = free_port()
    started: list[Proc] = []

    def start(args: list[str], name: str) -> Proc:
        started.append(Proc(args, tmp_path, name))
        return started[-1]

    async def main() -> list[dict]:
        async with Chromium(tmp_path, free_port()) as browser:
            page = await browser.page()
            await page.goto(explorer.url("/live"))
            await page.eval("""window.__seen = [];
                new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(tr => {
                  if (tr.nodeName === 'TR') window.__seen.push({text: tr.textContent, t: Date.now() / 1000});
                }))).observe(document.querySelector('#frames tbody'), {childList: true}); true""")
            feed = start(["feed", "serve", "--port", str(feed_port), "--speed", "1", str(recording)], "feed")
            wait_port(feed_port)
            tail = start(["tail", "--json", "--since", "0", "--data-dir", str(data)], "tail")
            start(["capture", "--url", f"http://127.0.0.1:{feed_port}", "--data-dir", str(data),
                   "--roll-seconds", "2"], "daemon")
            await page.wait_for("document.getElementById('live-badge').className === 'live on'", 30)
            await page.wait_for("window.__seen.length >= 30", 60)
            await page.screenshot(tmp_path / "live.png")  # mid-stream, for the README
            await asyncio.to_thread(feed.wait, 120)
            try:
                await page.wait_for("window.__seen.filter(s => /\"n\": ?" + str(n_events - 1) + "[,}]/.test(s.text)).length > 0", 10)
            except TimeoutError:
                state = await page.eval("[document.getElementById('live-state').textContent, window.__seen.length, "
                                        "document.querySelectorAll('#frames tbody tr').length, "
                                        "JSON.stringify(window.__seen.slice(-3))]")
                raise AssertionError(f"the last frame never showed: {state}") from None
            await asyncio.sleep(1.0)
            tail.signal(signal.SIGTERM)
            seen = await page.eval("window.__seen")
            await page.goto(explorer.url("/"))
            panel = await page.eval("document.getElementById('player').textContent")
            assert player["data"]["id"] in panel and cash in panel, panel
            await page.screenshot(tmp_path / "overview-live.png")
            return seen

    try:
        seen = asyncio.run(asyncio.wait_for(main(), 300))
        daemon = started[-1]
        assert daemon.stop() == 0, daemon.stderr()
        assert started[1].wait(30) == 0, started[1].stderr()
    finally:
        for p in started:
            if p.popen.poll() is None:
                p.popen.kill()
        explorer.stop()
    paths = DataPaths(data)
    q = Query(paths)
    received = {int(m[1]): f["ts"] for f in q.recent(3600, "standard/newTrade")
                if (m := re.search(r'"n": ?(\d+)[,}]', f["preview"]))}
    q.close()
    assert sorted(received) == list(range(n_events))  # all landed in Parquet once
    shown: dict[int, float] = {}
    for s in seen:
        m = re.search(r'"n": ?(\d+)[,}]', s["text"])
        if m and "standard/newTrade" in s["text"]:
            assert int(m[1]) not in shown, f"frame {m[1]} shown twice"
            shown[int(m[1])] = s["t"]
    assert sorted(shown) == list(range(n_events))
    lags = {n: shown[n] - received[n].timestamp() for n in shown}
    (tmp_path / "lags.json").write_text(json.dumps(lags))
    assert max(lags.values()) <= 2.0, sorted(lags.items(), key=lambda kv: -kv[1])[:5]
    assert min(lags.values()) > 0
    printed = [json.loads(line) for line in (tmp_path / "tail.out").read_text().splitlines()]
    keys = [(f["session_id"], f["seq"]) for f in printed]
    assert len(keys) == len(set(keys))  # rolled segments never printed twice
    trades = [json.loads(f["payload"]) for f in printed if f["event_name"] == "standard/newTrade"]
    tail_ns = sorted(t["n"] for t in trades if "n" in t)
    assert tail_ns == list(range(n_events))
    if os.environ.get("VECTRA_UPDATE_SCREENSHOT") == "1":  # a test run never changes the repo otherwise
        shutil.copyfile(tmp_path / "live.png", SCREENSHOT)


def test_vectra_up_starts_the_explorer_and_rolls_every_minute(tmp_path: Path) -> None:
    """`make run`'s command: the explorer's URL is printed next to the Dagster UI's and serves live frames;
    the local demo's daemon rolls its spool every 60 s."""
    explorer_port, ui_port = free_port(), free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    children: list = []
    up = Proc(["up", "--feed", "local", "--recordings", str(ROOT / "tests" / "fixtures" / "raw" /
                                                            "websocket_raw_samples.jsonl"),
               "--dagster-home", str(home), "--workspace", str(ROOT / "workspace.yaml"), "--ui-port", str(ui_port),
               "--explorer-port", str(explorer_port), "--data-dir", str(tmp_path / "data")], tmp_path, "up")
    try:
        wait_port(explorer_port, 60)
        deadline = time.monotonic() + 60
        frames: list = []
        # Wait for a feed frame, not just any: on a busy machine the daemon's first rows can be its
        # own connect_error / reconnect_attempt system events (the feed's port not yet open).
        while not any(f["event_name"] == "gameStateUpdate" for f in frames) and time.monotonic() < deadline:
            frames = json.loads(http(f"http://127.0.0.1:{explorer_port}/api/live/frames")[1])["frames"]
            time.sleep(0.5)
        assert any(f["event_name"] == "gameStateUpdate" for f in frames)
        err = (tmp_path / "up.err").read_text()
        assert f"Protocol Explorer on http://127.0.0.1:{explorer_port}/" in err
        assert f"Dagster UI on http://127.0.0.1:{ui_port}" in err
        children = psutil.Process(up.popen.pid).children(recursive=True)
        capture = next(c.cmdline() for c in children if "capture" in c.cmdline())
        assert capture[capture.index("--roll-seconds") + 1] == "60.0"
    finally:
        up.signal(signal.SIGINT)
        assert up.wait(60) == 0, up.stderr()
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", explorer_port)) != 0  # the explorer stopped with the rest
