"""Where the browser's DevTools endpoint is, and whether we may talk to it.

CDP gives full control of the browser (every cookie, every wallet page): a `--cdp` URL must be
loopback (127.0.0.0/8, ::1, localhost) unless the user explicitly allows a remote one. An http(s)
URL is resolved through `/json/version` to the browser's websocket; a ws(s) URL is used as is.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import aiohttp


class CdpEndpointError(ValueError):
    pass


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_cdp_url(url: str, allow_remote: bool = False) -> str:
    """The URL, normalised (no trailing slash); raises CdpEndpointError when it is not usable."""
    try:
        parts = urlsplit(url.strip())
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise CdpEndpointError(f"not a URL: {url!r} ({exc})") from exc
    if parts.scheme not in ("http", "https", "ws", "wss") or not host:
        raise CdpEndpointError(f"not a DevTools endpoint URL: {url!r} (expected e.g. http://127.0.0.1:9222)")
    if not allow_remote and not is_loopback_host(host):
        raise CdpEndpointError(
            f"refusing the non-loopback DevTools endpoint {host!r}: CDP gives full control of the browser. "
            "Use a loopback address (127.0.0.1), or pass --allow-remote-cdp if you really mean it.")
    return url.strip().rstrip("/")


async def browser_websocket(http: aiohttp.ClientSession, url: str, allow_remote: bool = False,
                            timeout: float = 5.0) -> tuple[str, dict[str, Any]]:
    """(the browser target's websocket URL, /json/version's answer) for a checked endpoint URL."""
    if url.startswith(("ws://", "wss://")):
        return url, {}
    async with http.get(f"{url}/json/version", timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
        resp.raise_for_status()
        version = await resp.json(content_type=None)
    ws_url = version.get("webSocketDebuggerUrl") if isinstance(version, dict) else None
    if not isinstance(ws_url, str):
        raise CdpEndpointError(f"{url}/json/version has no webSocketDebuggerUrl (is this a Chrome DevTools port?)")
    check_cdp_url(ws_url, allow_remote)  # the browser's answer must not lead us off the machine either
    return ws_url, version
