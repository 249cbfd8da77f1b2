"""The legacy JSONL formats and how a file's format is detected.

Detected per file from the first line that parses as a JSON object:
- ``game``: game and session files, every record has ``"type"`` (game_start, tick, game_end,
  session_start, game_complete, session_end; other type values are kept as they are).
- ``header``: the older format, ``{"_metadata": {...}}`` as first (and usually last) line, bare tick
  dicts between.
- ``feed_sample``: raw feed samples ``{timestamp, event_type, data}``.
- ``capture``: raw captures ``{seq, ts, event, data[, source, direction, raw]}``.
- ``unknown``: anything else. Never guessed: every non-blank line is quarantined with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from vectra_capture.legacy.lines import OversizedLine

GAME, HEADER, FEED_SAMPLE, CAPTURE, UNKNOWN = "game", "header", "feed_sample", "capture", "unknown"
FORMATS = (GAME, HEADER, FEED_SAMPLE, CAPTURE, UNKNOWN)

# Where a record of each format starts; salvage only tries to decode a record at these openers.
RECORD_OPENERS: dict[str, tuple[str, ...]] = {
    GAME: ('{"type"',),
    HEADER: ('{"_metadata"',),
    FEED_SAMPLE: ('{"timestamp"',),
    CAPTURE: ('{"seq"',),
}
DETECT_LINES = 50  # non-blank lines looked at before a file is called unknown


def is_header_line(obj: dict[str, Any]) -> bool:
    return "_metadata" in obj and len(obj) == 1


def classify_object(obj: Any) -> str:
    """The format a single parsed line belongs to (UNKNOWN if none)."""
    if not isinstance(obj, dict):
        return UNKNOWN
    if is_header_line(obj):
        return HEADER
    if isinstance(obj.get("type"), str):
        return GAME
    if "event_type" in obj and "timestamp" in obj and "data" in obj:
        return FEED_SAMPLE
    if "event" in obj and "ts" in obj and "seq" in obj:
        return CAPTURE
    return UNKNOWN


def detect_format(lines: Iterable[bytes | OversizedLine]) -> tuple[str, str]:
    """(format, detail) from the first line that parses as a JSON object. An oversized line counts
    as a line tried that does not parse."""
    tried = 0
    for raw in lines:
        if isinstance(raw, OversizedLine):
            blank, text = raw.blank, None
        else:
            text = raw.strip()
            blank = not text
        if blank:
            continue
        tried += 1
        if tried > DETECT_LINES:
            break
        if text is None:
            continue  # an oversized line: too long to parse
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        fmt = classify_object(obj)
        if fmt != UNKNOWN:
            return fmt, ""
        keys = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        return UNKNOWN, f"first JSON line has keys {keys}"
    return UNKNOWN, f"no JSON object in the first {DETECT_LINES} non-blank lines"
