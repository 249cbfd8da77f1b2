"""Whole records recovered from a line that is not valid JSON as a whole.

Two writers appending to one file interleave their bytes: a line can hold a record cut short by
the other writer, then a complete record, or two records glued together. A record is recovered only
if it decodes completely (``JSONDecoder.raw_decode`` at a record opener such as ``{"type"``) and is a
valid record of the file's format. A record cut short is NOT repaired: its last value may be cut
too, so it stays an unrecovered fragment (quarantined) instead of being guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vectra_capture.legacy.records import LegacyRecord, RecordBuilder, Row

ANY_OBJECT_OPENER = ('{"',)  # the fallback when no known opener yields a record
_DECODER = json.JSONDecoder()


@dataclass(slots=True)
class Salvage:
    """What one broken line gave: its records and the pieces that are not part of any record."""

    records: list[LegacyRecord | Row] = field(default_factory=list)  # Rows from a lean builder
    fragments: list[tuple[int, int]] = field(default_factory=list)  # character ranges of the line


def salvage_line(builder: RecordBuilder, text: str, line_no: int, openers: tuple[str, ...]) -> Salvage:
    """The complete records in `text` (tried at `openers`, then at any object start) and the
    unrecovered fragments around them. No records: nothing was salvaged (the line is quarantined whole)."""
    records, spans, starts = _records_at(builder, text, line_no, openers)
    if not records:  # no known opener worked: try every object start (e.g. a record type not seen yet)
        records, spans, starts = _records_at(builder, text, line_no, ANY_OBJECT_OPENER)
    if not records:
        return Salvage()
    return Salvage(records, _fragments(text, spans, starts))


def unsalvageable_reason(text: str) -> str:
    """Why a line from which nothing was recovered is quarantined."""
    stripped = text.lstrip()
    if stripped.startswith("#"):
        return "human note (line starts with '#'), not a record"
    if not stripped.startswith(("{", "[")):
        return "line starts mid-record (no record start); nothing complete to salvage"
    return f"corrupt JSON, no complete record in the line: {_json_error(text)}"


def fragment_reason(start: int, end: int, recovered: int) -> str:
    return (f"unrecovered fragment (chars {start}-{end}) of a salvaged line ({recovered} record(s) "
            "recovered): interleaved or truncated write")


def _opener_positions(text: str, openers: tuple[str, ...]) -> list[int]:
    out: list[int] = []
    for opener in openers:
        pos = text.find(opener)
        while pos >= 0:
            out.append(pos)
            pos = text.find(opener, pos + 1)
    return sorted(set(out))


def _decodable_objects(text: str, starts: list[int]) -> list[tuple[int, int, Any]]:
    """[(start, end, obj)] of the complete JSON values decodable at `starts`, not overlapping."""
    found: list[tuple[int, int, Any]] = []
    covered = 0
    for pos in starts:
        if pos < covered:
            continue
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except ValueError:
            continue
        found.append((pos, end, obj))
        covered = end
    return found


def _records_at(
    builder: RecordBuilder, text: str, line_no: int, openers: tuple[str, ...]
) -> tuple[list[LegacyRecord | Row], list[tuple[int, int]], list[int]]:
    """(records, their character spans, every opener position) of one line."""
    starts = _opener_positions(text, openers)
    records: list[LegacyRecord | Row] = []
    spans: list[tuple[int, int]] = []
    for a, b, piece in _decodable_objects(text, starts):
        rec = builder.build(piece, text[a:b], line_no, True)
        if not isinstance(rec, str):
            records.append(rec)
            spans.append((a, b))
    return records, spans, starts


def _fragments(text: str, spans: list[tuple[int, int]], starts: list[int]) -> list[tuple[int, int]]:
    """The uncovered parts of a line, cut at record openers, whitespace-only parts dropped."""
    gaps: list[tuple[int, int]] = []
    prev = 0
    for a, b in [*spans, (len(text), len(text))]:
        if a > prev:
            gaps.append((prev, a))
        prev = max(prev, b)
    pieces: list[tuple[int, int]] = []
    for a, b in gaps:
        cuts = [a] + [s for s in starts if a < s < b] + [b]
        for x, y in zip(cuts, cuts[1:], strict=False):
            if text[x:y].strip():
                pieces.append((x, y))
    return pieces


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return str(exc)
    return "not JSON"
