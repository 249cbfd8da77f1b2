"""`vectra browser`: the player's Chrome/Chromium with a persistent profile and remote debugging.

The profile (cookies, the wallet extension and its keys, the logged-in session) lives in its own
folder, by default under the user's config directory, and never inside the data root: the data
root is shared with tools and exports, the profile holds secrets. Chrome serves CDP on 127.0.0.1
only; a non-default `--user-data-dir` is required anyway (Chrome 136+ ignores the debugging port
on the default profile).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectra_capture.store import ensure_dir

DEFAULT_URL = "https://rugs.fun"
DEFAULT_PORT = 9222
# Looked up on PATH in this order; then the usual macOS application bundles.
BROWSER_NAMES = ("google-chrome", "google-chrome-stable", "chromium", "chromium-browser", "chrome")
MAC_BUNDLES = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
               "/Applications/Chromium.app/Contents/MacOS/Chromium")
INSTALL_HINT = ("install Google Chrome or Chromium (Debian/Ubuntu: `sudo apt-get install -y chromium`), "
                "or pass --chrome PATH")


class BrowserError(RuntimeError):
    pass


def find_browser(explicit: str | None = None) -> str:
    """The Chrome/Chromium executable to start."""
    if explicit:
        found = shutil.which(explicit) or (explicit if Path(explicit).is_file() else None)
        if not found:
            raise BrowserError(f"no browser at {explicit!r}")
        return found
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if sys.platform == "darwin":
        for bundle in MAC_BUNDLES:
            if Path(bundle).is_file():
                return bundle
    raise BrowserError(f"no Chrome or Chromium found: {INSTALL_HINT}")


def check_profile(profile: Path, data_root: Path) -> Path:
    """The profile folder, resolved; refused when it is the data root or inside it."""
    profile, data_root = profile.expanduser().resolve(), data_root.expanduser().resolve()
    if profile == data_root or data_root in profile.parents:
        raise BrowserError(f"the browser profile {profile} is inside the data root {data_root}: it holds wallet "
                           "secrets and must live elsewhere (default: under your config directory)")
    return profile


@dataclass
class BrowserLaunch:
    binary: str
    profile: Path
    port: int = DEFAULT_PORT
    url: str = DEFAULT_URL
    headless: bool = False
    extra_args: tuple[str, ...] = ()

    @property
    def cdp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        args = [self.binary, f"--remote-debugging-port={self.port}", f"--user-data-dir={self.profile}",
                "--no-first-run", "--no-default-browser-check"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chrome refuses to start as root with its sandbox on
        if self.headless:
            args += ["--headless=new", "--disable-gpu"]
        return [*args, *self.extra_args, self.url]


def cdp_version(port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """/json/version of whatever serves CDP on 127.0.0.1:port, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=timeout) as resp:
            answer = json.loads(resp.read())
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def start_browser(launch: BrowserLaunch, wait: float = 30.0) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Start the browser (its own session, so a Ctrl-C meant for us is not sent to it twice) and
    wait until CDP answers. Raises BrowserError if it exits or stays silent."""
    ensure_dir(launch.profile).chmod(0o700)  # owner-only: cookies, wallet keys, the session
    proc = subprocess.Popen(launch.args(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        version = cdp_version(launch.port)
        if version is not None:
            return proc, version
        if proc.poll() is not None:
            raise BrowserError(f"{launch.binary} exited with code {proc.returncode} before serving CDP "
                               f"(is the profile {launch.profile} open in another browser?)")
        time.sleep(0.2)
    proc.terminate()
    raise BrowserError(f"{launch.binary} did not serve CDP on 127.0.0.1:{launch.port} within {wait:.0f}s")
