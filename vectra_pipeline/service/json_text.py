"""JSON text handled as text: the last element of a frame array and pretty-printing, without parsing
numbers (a price like 0.0074962956398157985 has more digits than a double, and must be shown exactly as
the server sent it)."""

from __future__ import annotations

import json
from typing import Any


def _scan(text: str):
    """(index, char, depth before the char) of every structural character outside strings."""
    depth = 0
    in_str = escaped = False
    for i, ch in enumerate(text):
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            yield i, ch, depth
            depth += 1
        elif ch in "]}":
            depth -= 1
            yield i, ch, depth
        elif ch in ",:":
            yield i, ch, depth


def frame_payload(text: str) -> str | None:
    """The text of the last element of a frame array `["name", ...args]`; None when the frame carries
    no argument or is not an array."""
    body = text.strip()
    if not body.startswith("["):
        return None
    start, end = None, None
    for i, ch, depth in _scan(body):
        if depth == 1 and ch == ",":
            start = i + 1
        elif depth == 0 and ch == "]":
            end = i
            break
    if end is None or start is None:
        return None
    element = body[start:end].strip()
    return element or None


def payload_text(event_name: str | None, raw_json: str) -> str:
    """The payload of a raw row as JSON text: the last argument of a frame array (the trace object may
    come before it, docs/protocol.md), the row itself for legacy records and system events."""
    if event_name and event_name.startswith("legacy."):
        return raw_json
    if raw_json.lstrip().startswith("[") and event_name is not None:
        return frame_payload(raw_json) or "null"
    return raw_json


def pretty(text: str, max_chars: int = 64_000, indent: int = 2) -> tuple[str, bool]:
    """Indented JSON text with every scalar kept verbatim; (text, truncated). Text that is not JSON is
    returned as it is."""
    try:
        json.loads(text)
    except ValueError:
        return text[:max_chars], len(text) > max_chars
    out: list[str] = []
    size = 0
    pos = 0
    pad = " " * indent

    def emit(piece: str) -> None:
        nonlocal size
        out.append(piece)
        size += len(piece)

    for i, ch, depth in _scan(text):
        between = text[pos:i].strip()
        if between:
            emit(between)
        nxt = text[i + 1 :].lstrip()[:1]
        if ch in "[{":
            emit(ch)
            if nxt not in "]}":
                emit("\n" + pad * (depth + 1))
        elif ch in "]}":
            prev = text[:i].rstrip()[-1:]
            if prev not in "[{":
                emit("\n" + pad * depth)
            emit(ch)
        elif ch == ",":
            emit(",\n" + pad * depth)
        else:
            emit(": ")
        pos = i + 1
        if size > max_chars:
            return "".join(out)[:max_chars] + "\n…", True
    tail = text[pos:].strip()
    if tail:
        emit(tail)
    return "".join(out), False


def preview(text: str, max_chars: int = 240) -> str:
    """One line of compact JSON text for lists (whitespace outside strings removed)."""
    flat = " ".join(text.split()) if len(text) < 4 * max_chars else " ".join(text[: 4 * max_chars].split())
    return flat if len(flat) <= max_chars else flat[: max_chars - 1] + "…"


def loads(text: str) -> Any:
    """Parsed JSON (numbers as float) or None when it is not JSON; for summaries, never for display."""
    try:
        return json.loads(text)
    except ValueError:
        return None
