"""Cross-site protection for the one kind of write the explorer does (verification POSTs) and for the
JSON it serves: a per-process CSRF token in every form, the browser's Origin / Sec-Fetch-Site headers
checked, and the Host header checked against the loopback names (DNS rebinding)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from aiohttp import web

LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass
class Guard:
    host: str
    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def allowed_hosts(self) -> set[str] | None:
        """Host header values accepted; None (any) when the user chose a non-loopback address."""
        if self.host not in LOOPBACK:
            return None
        return {f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]")}

    def host_problem(self, request: web.Request) -> str | None:
        allowed = self.allowed_hosts()
        if allowed is not None and request.host not in allowed:
            return f"unexpected Host header {request.host!r}: open the explorer at http://127.0.0.1:{self.port}/"
        return None

    def post_problem(self, request: web.Request, token: str | None) -> str | None:
        """Why a state-changing request is refused (None: accepted)."""
        site = request.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return f"cross-site request refused (Sec-Fetch-Site: {site})"
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return f"cross-site request refused (Origin {origin} is not this explorer)"
        if not token or not hmac.compare_digest(token, self.token):
            return "missing or stale form token: reload the page and try again"
        return None
