"""Exceptions as one line of text fit to record (a system_event, the status file, the log)."""

from __future__ import annotations

import os

from vectra_capture.urls import redact_text


def error_chain(exc: BaseException) -> str:
    """An exception and its causes in one line (URLs redacted). python-socketio raises a bare
    "Connection error"; the real cause (e.g. "Connection refused") is further down the chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current) or type(current).__name__
        if isinstance(current, OSError) and current.errno:
            cause = os.strerror(current.errno)
            if cause not in text and not any(cause in p for p in parts):
                text = f"{cause} ({text})"
        if text not in parts:
            parts.append(text)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return redact_text(": ".join(parts))
