"""Real headless Chromium driven over the DevTools protocol with aiohttp's websocket client (no extra
package): open a page, wait for the DOM, evaluate JavaScript, take screenshots."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = os.environ.get("VECTRA_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-default-browser-check", "--window-size=1280,900"]


class CdpError(RuntimeError):
    pass


class Chromium:
    """One browser process for a test; `async with Chromium(tmp) as b: page = await b.page()`."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.proc: subprocess.Popen | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []

    async def __aenter__(self) -> Chromium:
        args = [CHROMIUM, *FLAGS, f"--user-data-dir={self.workdir / 'chromium-profile'}",
                f"--remote-debugging-port={self.port}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        self.proc = subprocess.Popen(args, stdout=open(self.workdir / "chromium.out", "w"),  # noqa: SIM115
                                     stderr=subprocess.STDOUT)
        url = None
        deadline = time.monotonic() + 30
        while url is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version", timeout=2) as r:
                    url = json.load(r)["webSocketDebuggerUrl"]
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._reader.cancel()
        await self.ws.close()
        await self.session.close()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            fut = self._pending.pop(data.get("id"), None)
            if fut is not None and not fut.done():
                if "error" in data:
                    fut.set_exception(CdpError(str(data["error"])))
                else:
                    fut.set_result(data.get("result", {}))
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, params: dict | None = None, session: str | None = None,
                   timeout: float = 30) -> dict:
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        body: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            body["sessionId"] = session
        await self.ws.send_str(json.dumps(body))
        return await asyncio.wait_for(fut, timeout)

    async def page(self) -> Page:
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = Page(self, session)
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        return page


class Page:
    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict | None = None, timeout: float = 30) -> dict:
        return await self.browser.send(method, params, self.session, timeout)

    async def eval(self, expression: str) -> Any:
        res = await self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                   "awaitPromise": True})
        if "exceptionDetails" in res:
            raise CdpError(f"{expression[:80]}: {res['exceptionDetails']}")
        return res["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = await self.eval(expression)
            except CdpError:
                value = None  # mid-navigation: the context is being replaced
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"not true within {timeout}s: {expression}")
            await asyncio.sleep(0.1)

    async def goto(self, url: str, timeout: float = 120) -> None:
        """Navigate and wait for the page's load (a first search loads the model: give it time)."""
        await self.send("Page.navigate", {"url": url}, timeout)
        await self.wait_for(f"document.readyState === 'complete' && location.href === {json.dumps(url)}", timeout)

    async def screenshot(self, path: Path) -> Path:
        data = (await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}))["data"]
        path.write_bytes(base64.b64decode(data))
        return path
