"""Real headless Chromium for the browser-capture tests: start, open/close/reload tabs, kill."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from conftest import VECTRA, free_port, wait_for

from vectra_capture.cdp.connection import CdpConnection
from vectra_capture.status import read_status
from vectra_capture.store.layout import DataPaths

CHROMIUM_FLAGS = ("--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-default-browser-check")
INSTALL_HINT = "chromium is not installed: `apt-get install -y chromium` as root (`make test` does it when it can)"


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.skip(INSTALL_HINT)
    return found


class Chromium:
    """One headless browser on 127.0.0.1:<port> with a throwaway profile (restartable on the same port)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = chromium_binary()
        self.port = port or free_port()
        self.profile = workdir / "chromium-profile"
        self.log = workdir / "chromium.log"
        self.proc: subprocess.Popen | None = None

    @property
    def cdp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Chromium:
        args = [self.binary, *CHROMIUM_FLAGS, f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        assert wait_for(lambda: self.version() is not None, 30), f"chromium did not serve CDP: {self.log.read_text()[-2000:]}"
        return self

    def version(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"{self.cdp_url}/json/version", timeout=1) as resp:
                return json.loads(resp.read())
        except OSError:
            return None

    def open_tab(self, url: str) -> str:
        req = urllib.request.Request(f"{self.cdp_url}/json/new?{urllib.parse.quote(url, safe='')}", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["id"]

    def close_tab(self, target_id: str) -> None:
        with urllib.request.urlopen(f"{self.cdp_url}/json/close/{target_id}", timeout=10) as resp:
            resp.read()

    def reload_tab(self, target_id: str) -> None:
        """Page.reload through a session of our own (the capture's session is not touched)."""

        async def reload() -> None:
            async with aiohttp.ClientSession() as http:
                ws_url = self.version()["webSocketDebuggerUrl"]  # type: ignore[index]
                conn = await CdpConnection.open(http, ws_url, lambda *_: None)
                reader = asyncio.create_task(conn.run())
                attached = await conn.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
                await conn.send("Page.reload", {}, attached["sessionId"])
                await conn.send("Target.detachFromTarget", {"sessionId": attached["sessionId"]})
                await conn.close()
                await reader

        asyncio.run(reload())

    def kill(self) -> None:
        """kill -9 the browser and everything it started."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def status(data: Path) -> dict:
    """The running daemon's status, as `vectra status --json` reads it (in process: polled often)."""
    return read_status(DataPaths(data))


def status_cli(data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VECTRA, "status", "--data-dir", str(data), *args], capture_output=True, text=True)
