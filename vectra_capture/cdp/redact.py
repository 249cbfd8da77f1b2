"""Credentials out of what the browser sends, before a frame reaches the spool.

A sent Socket.IO packet (`2<ack id>[...]`) is scanned for object keys that look like credentials
(token, jwt, signature, authorization, cookie, password, secret: case-insensitive substrings,
configurable) and for JWT-shaped strings anywhere; each such value becomes
`"<redacted sha256:<first 12 hex of sha256(value)>>"`, so equal secrets stay recognisable and a
known secret can be checked, but none can be read back. A frame with nothing to redact is passed
through byte for byte; a redacted one is re-serialized compactly (as the browser's JSON.stringify
writes it) with every number kept as its original text. URLs are redacted by `vectra_capture/urls.py`
(the one URL redaction); this module is only about the frames' content.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

DEFAULT_SECRET_KEYS: tuple[str, ...] = ("token", "jwt", "signature", "authorization", "cookie", "password", "secret")
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*$")
_PACKETS_WITH_DATA = "2356"  # event, ack, binary event, binary ack


class _Number(str):
    """A JSON number kept as the text it was written with."""


def fingerprint(value: Any) -> str:
    text = value if isinstance(value, str) else _dump(value)
    return f"<redacted sha256:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}>"


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_dump(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class Redactor:
    def __init__(self, secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS) -> None:
        self.secret_keys = tuple(k.lower() for k in secret_keys if k)
        self.redacted = 0  # values replaced so far

    def _secret_key(self, key: str) -> bool:
        low = key.lower()
        return any(k in low for k in self.secret_keys)

    def _walk(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, dict):
            n = 0
            out: dict[str, Any] = {}
            for k, v in value.items():
                if self._secret_key(k) and v is not None:
                    out[k], n = fingerprint(v), n + 1
                else:
                    out[k], m = self._walk(v)
                    n += m
            return out, n
        if isinstance(value, list):
            n = 0
            items = []
            for v in value:
                w, m = self._walk(v)
                items.append(w)
                n += m
            return items, n
        if isinstance(value, str) and not isinstance(value, _Number) and _JWT.match(value):
            return fingerprint(value), 1
        return value, 0

    def _may_hold_secret(self, text: str) -> bool:
        low = text.lower()
        return "eyj" in low or any(k in low for k in self.secret_keys)

    def packet(self, text: str) -> str:
        """A Socket.IO packet as sent, its credential values replaced (unchanged when none)."""
        if not text or text[0] not in _PACKETS_WITH_DATA or not self._may_hold_secret(text):
            return text
        start = text.find("[")
        if start < 0:
            return text
        try:
            data = json.loads(text[start:], parse_float=_Number, parse_int=_Number)
        except (ValueError, RecursionError):
            return text  # not JSON: the parser quarantines it (a secret in broken JSON stays: counted below)
        cleaned, n = self._walk(data)
        if not n:
            return text
        self.redacted += n
        return text[:start] + _dump(cleaned)

