"""Capture URLs: checked once at start, and redacted wherever they are recorded.

`redact_url` is the one function that makes a URL safe to store or print: userinfo
(`user:pass@`) and credential-looking query parameters (token, jwt, key, secret, password,
signature, auth, session...) become `REDACTED`; everything else stays as given, so the row still
says which server and which parameters were used. `redact_text` does the same to every URL inside
a message (an exception text may quote the URL).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

REDACTED = "REDACTED"
CAPTURE_SCHEMES = ("http", "https", "ws", "wss")
# A parameter name holding one of these (case-insensitive) is a credential.
_SECRET_PARTS = ("token", "jwt", "secret", "passw", "pwd", "auth", "signature", "credential", "apikey",
                 "api_key", "api-key", "cookie", "session", "private")
# ... or made of one of these words (`key`, `sig`, `access_key`, `X-Amz-Signature`, but not `monkey`).
_SECRET_WORDS = {"key", "sig", "pass", "sid", "code", "otp", "hmac", "nonce"}
_WORD = re.compile(r"[a-z0-9]+")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def is_secret_param(name: str) -> bool:
    lowered = name.lower()
    if any(part in lowered for part in _SECRET_PARTS):
        return True
    split_camel = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower()
    return any(word in _SECRET_WORDS for word in _WORD.findall(split_camel))


def _redact_query(query: str) -> str:
    if not query:
        return query
    out = []
    for item in query.split("&"):
        name, eq, _value = item.partition("=")
        out.append(f"{name}={REDACTED}" if eq and is_secret_param(name) else item)
    return "&".join(out)


def redact_url(url: str) -> str:
    """The URL with userinfo and credential-looking query parameters replaced by REDACTED."""
    try:
        parts = urlsplit(url)
        host = parts.hostname  # raises for some malformed netlocs
        port = parts.port
    except ValueError:
        return redact_text_fallback(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    del host, port
    fragment = _redact_query(parts.fragment) if "=" in parts.fragment else parts.fragment
    return urlunsplit(SplitResult(parts.scheme, netloc, parts.path, _redact_query(parts.query), fragment))


def redact_text_fallback(text: str) -> str:
    """For a string that does not even split as a URL: cut userinfo and secret-looking values by pattern."""
    text = re.sub(r"//[^/@\s]*@", f"//{REDACTED}@", text)
    return re.sub(r"([?&#;]([^=&#\s]+)=)([^&#\s]*)",
                  lambda m: m.group(1) + (REDACTED if is_secret_param(m.group(2)) else m.group(3)), text)


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (error messages quote URLs)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def check_capture_url(url: str) -> str:
    """The URL when it can be captured from (http/https/ws/wss with a host); ValueError saying why
    otherwise, so a typo fails at start instead of being retried forever."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"{redact_url(url)!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in CAPTURE_SCHEMES:
        shown = f"scheme {parts.scheme!r}" if parts.scheme else "no scheme"
        raise ValueError(f"{redact_url(url)!r} has {shown}: a capture URL starts with "
                         f"{', '.join(s + '://' for s in CAPTURE_SCHEMES)}")
    if not host:
        raise ValueError(f"{redact_url(url)!r} has no host name")
    return url
