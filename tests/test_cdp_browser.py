"""`vectra browser`: a real Chromium with a persistent profile outside the data root, CDP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest
from cdp_helpers import CHROMIUM_FLAGS, Chromium, chromium_binary
from conftest import free_port

from vectra_capture.cdp.browser import BrowserError, BrowserLaunch, check_profile, find_browser
from vectra_pipeline.cli.browser import default_profile


def test_profile_lives_outside_the_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert default_profile() == tmp_path / "config" / "vectra" / "browser-profile"
    data = tmp_path / "data"
    assert check_profile(tmp_path / "profile", data) == (tmp_path / "profile").resolve()
    for inside in (data, data / "browser", data / "x" / ".." / "browser"):
        with pytest.raises(BrowserError, match="inside the data root"):
            check_profile(inside, data)
    with pytest.raises(BrowserError, match="no browser"):
        find_browser(str(tmp_path / "no-such-chrome"))
    launch = BrowserLaunch("/usr/bin/chromium", tmp_path / "p", 9333, "https://rugs.fun")
    args = launch.args()
    assert args[0] == "/usr/bin/chromium" and args[-1] == "https://rugs.fun" and launch.cdp_url == "http://127.0.0.1:9333"
    assert {"--remote-debugging-port=9333", f"--user-data-dir={tmp_path / 'p'}", "--no-first-run"} <= set(args)


def test_vectra_browser_starts_chromium_with_remote_debugging(procs, tmp_path: Path) -> None:
    chromium_binary()
    port, profile, data = free_port(), tmp_path / "profile", tmp_path / "data"
    extra = [f"--chrome-arg={flag}" for flag in CHROMIUM_FLAGS if flag != "--headless=new"]
    p = procs(["browser", "--headless", "--detach", "--json", "--port", str(port), "--profile", str(profile),
               "--data-dir", str(data), *extra, "about:blank"], "browser")
    assert p.wait(60) == 0, p.stderr()
    info = p.json()
    try:
        assert info["cdp_url"] == f"http://127.0.0.1:{port}" and info["browser"].startswith(("Chrome/", "HeadlessChrome/"))
        assert Chromium(tmp_path, port).version() is not None  # CDP answers on 127.0.0.1
        assert stat.S_IMODE(profile.stat().st_mode) == 0o700 and any(profile.iterdir())
        assert not data.exists()  # nothing of the browser lands in the data root
        again = procs(["browser", "--headless", "--detach", "--port", str(port), "--profile", str(tmp_path / "p2"),
                       "--data-dir", str(data)], "again")
        assert again.wait(60) == 1 and "already serves CDP" in again.stderr()
        inside = procs(["browser", "--headless", "--detach", "--port", str(free_port()), "--profile",
                        str(data / "profile"), "--data-dir", str(data)], "inside")
        assert inside.wait(60) == 1 and "inside the data root" in inside.stderr()
    finally:
        os.killpg(info["pid"], signal.SIGTERM)  # its own process group (started in a new session)
    assert json.dumps(info)
