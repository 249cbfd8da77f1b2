"""Read one legacy JSONL recording: detect its format, yield its records, salvage corrupt lines.

Formats (detected per file from the first line that parses as a JSON object, see `detect_format`):
- ``game``: game and session files, every record has ``"type"`` (game_start, tick, game_end,
  session_start, game_complete, session_end; other type values are kept as they are).
- ``header``: the older format, ``{"_metadata": {...}}`` as first (and usually last) line, bare tick
  dicts between.
- ``feed_sample``: raw feed samples ``{timestamp, event_type, data}``.
- ``capture``: raw captures ``{seq, ts, event, data[, source, direction, raw]}``.
- ``unknown``: anything else. Never guessed: every non-blank line is quarantined with the reason.

Accounting (per file, it always holds exactly):

    lines == imported + salvaged + quarantined + blank

- ``lines``: physical lines (split on ``\\n``; a last line without ``\\n`` counts, an empty file has 0).
- ``blank``: lines holding only whitespace.
- ``imported``: lines that parse whole (``json.loads``) into one valid record of the file's format;
  each gives exactly one record.
- ``salvaged``: lines that do not parse whole but from which >= 1 complete record was recovered
  (two writers interleaved on one line, records glued together). ``salvaged_records`` counts the
  records recovered from them; ``fragments`` counts the unrecovered pieces of those lines, and each
  fragment is ALSO kept as a quarantine item (reason says which column range), so nothing is dropped.
- ``quarantined``: non-blank lines from which nothing was recovered (human notes, lines starting
  mid-record, truncated records, valid JSON that is not a record, records without a usable timestamp).
  Each is one quarantine item holding the whole original line.

So: records = imported + salvaged_records; quarantine items = quarantined + fragments.

Salvage: a whole record is recovered only if it decodes completely (``JSONDecoder.raw_decode`` at each
record opener such as ``{"type"``) and is a valid record. A record cut short (e.g. missing its closing
brace because another writer's bytes landed there) is NOT repaired: its last value may be truncated too,
so it goes to quarantine as a fragment instead of being guessed.

Timestamps: naive values are America/New_York local time (zoneinfo, DST-aware; the data crosses the
2025-11-02 change; an ambiguous 01:xx fall-back time is read as EDT unless that would put it before
the file's previous record, then as EST), values with an offset are honoured, numbers are epoch s/ms/us by magnitude.
All are returned as UTC microseconds. ``gameid_date_mismatch`` counts records whose gameId date
(``YYYYMMDD-...``, a UTC date) differs from the record's UTC date.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import json.scanner
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vectra_capture.frames import envelope_ids, socketio_args

LOCAL_TZ = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

GAME, HEADER, FEED_SAMPLE, CAPTURE, UNKNOWN = "game", "header", "feed_sample", "capture", "unknown"
FORMATS = (GAME, HEADER, FEED_SAMPLE, CAPTURE, UNKNOWN)

# Where a record of each format starts; salvage only tries raw_decode at these openers.
_OPENERS: dict[str, tuple[str, ...]] = {
    GAME: ('{"type"',),
    HEADER: ('{"_metadata"',),
    FEED_SAMPLE: ('{"timestamp"',),
    CAPTURE: ('{"seq"',),
}
_TS_KEYS = ("timestamp", "ts", "time")
_META_TS_KEYS = ("timestamp", "ts", "start_time", "started_at", "recorded_at", "created_at", "end_time")
_GAME_ID_DATE = re.compile(r"^(\d{8})-")
_DETECT_LINES = 50
_DECODER = json.JSONDecoder()
# The C scanner behind json.loads, without its Python wrapper (two regex calls per line): the hot path.
_SCAN = json.scanner.make_scanner(_DECODER)


@dataclass(slots=True)
class LegacyRecord:
    """One record of a legacy file, in file order."""

    index: int  # running record index inside the file (0, 1, 2, ...): the row's seq
    line_no: int  # 1-based physical line
    ts_us: int  # UTC microseconds since the epoch
    kind: str  # the record's own name: type ("tick"), "metadata", or the event name
    event_name: str  # the canonical ws_event name: "legacy.tick", or the real event name
    obj: dict[str, Any]  # the whole parsed record
    payload: Any  # game/header: the record itself; feed/capture: the event payload (last argument)
    args: list[Any]  # the Socket.IO arguments (feed/capture); [] for game/header records
    text: str  # the record's JSON text exactly as in the file (a salvaged record: its fragment)
    salvaged: bool = False
    game_id: str | None = None
    player_id: str | None = None
    username: str | None = None
    direction: str = "received"

    @property
    def ts(self) -> datetime:
        return EPOCH + self.ts_us * ONE_US

    def raw_json(self) -> str:
        """The row's raw_json (CONTRACTS.md): the record text for game/header formats, the
        Socket.IO array ``[event_name, *args]`` for feed samples and captures."""
        if not self.args:
            return self.text
        return json.dumps([self.event_name, *self.args], separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class QuarantineItem:
    line_no: int
    raw: bytes  # the whole original line, or the unrecovered fragment of a salvaged line
    reason: str
    fragment: bool = False  # True: a piece of a salvaged line


@dataclass(slots=True)
class Counters:
    lines: int = 0
    imported: int = 0
    salvaged: int = 0
    salvaged_records: int = 0
    fragments: int = 0
    quarantined: int = 0
    blank: int = 0
    gameid_date_mismatch: int = 0

    @property
    def records(self) -> int:
        return self.imported + self.salvaged_records

    def balanced(self) -> bool:
        return self.lines == self.imported + self.salvaged + self.quarantined + self.blank

    def as_dict(self) -> dict[str, int]:
        out = {k: getattr(self, k) for k in self.__slots__}
        out["records"] = self.records
        return out


@dataclass(slots=True)
class LegacyFile:
    path: Path
    rel: str  # the key: name relative to the legacy root (posix), else the absolute path
    format: str
    size: int
    mtime_ns: int
    sha256: str
    records: list[LegacyRecord] = field(default_factory=list)
    quarantined: list[QuarantineItem] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    detail: str = ""  # why the format is unknown

    @property
    def game_ids(self) -> set[str]:
        return {r.game_id for r in self.records if r.game_id}


# ---------------------------------------------------------------- timestamps


def to_utc_us(value: Any, after: int | None = None) -> int | None:
    """A legacy timestamp as UTC microseconds; None when it is not a timestamp. `after`: the previous
    record's UTC time in the same file, used to place an ambiguous fall-back local time (see
    `_naive_local_us`)."""
    if isinstance(value, str):
        fast = _fast_local_us(value, after)
        return fast if fast is not None else _slow_to_utc_us(value, after)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        v = float(value)
        if v > 1e17:
            return None
        scale = 1 if v > 1e14 else 1_000 if v > 1e11 else 1_000_000
        return int(round(v * scale))
    return None


def _local_starts(naive: datetime) -> tuple[int, int]:
    """UTC microseconds of a naive New York time read with fold=0 and with fold=1 (equal unless the
    time is ambiguous or skipped on a DST night)."""
    early = naive.replace(tzinfo=LOCAL_TZ, fold=0)
    late = naive.replace(tzinfo=LOCAL_TZ, fold=1)
    return (early - EPOCH) // ONE_US, (late - EPOCH) // ONE_US


def _pick(early: int, late: int, after: int | None) -> int:
    """fold=0 (EDT) unless the time is ambiguous and fold=0 would go back before the previous record:
    time never runs backwards within one recording, so it is the second (EST) pass."""
    if late > early and after is not None and early < after:
        return late
    return early


def _slow_to_utc_us(value: str, after: int | None = None) -> int | None:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return _pick(*_local_starts(dt), after)
    return (dt - EPOCH) // ONE_US


# Naive "YYYY-MM-DDTHH:MM:SS[.ffffff]" is the common case: the UTC offset is constant within one wall
# clock minute, so the minute's UTC start is computed once and cached. Minutes that are ambiguous or
# skipped on a DST night are never cached: their reading depends on the previous record (`after`).
_MINUTE_CACHE: dict[str, int | None] = {}


def _fast_local_us(value: str, after: int | None = None) -> int | None:
    n = len(value)
    if n != 26 and n != 19:
        return None
    minute = value[:16]
    start = _MINUTE_CACHE.get(minute, -1)
    late = None
    if start == -1:
        if len(_MINUTE_CACHE) > 500_000:
            _MINUTE_CACHE.clear()
        start = None
        if minute[10] == "T" and minute[:4].isdigit():
            with contextlib.suppress(ValueError):  # e.g. month 13: not a timestamp
                start, late = _local_starts(datetime.fromisoformat(minute + ":00"))
        if late == start:
            _MINUTE_CACHE[minute] = start
            late = None
    if start is None or value[16] != ":":
        return None
    sec = value[17:19]
    if not sec.isdigit() or sec > "59":
        return None
    offset = int(sec) * 1_000_000
    if n == 26:
        frac = value[20:]
        if value[19] != "." or not frac.isdigit():
            return None
        offset += int(frac)
    if late is not None:
        return _pick(start + offset, late + offset, after)
    return start + offset


def _record_ts(obj: dict[str, Any], keys: tuple[str, ...] = _TS_KEYS, after: int | None = None) -> int | None:
    for key in keys:
        if key in obj:
            ts = to_utc_us(obj[key], after)
            if ts is not None:
                return ts
    return None


_US_PER_DAY = 86_400_000_000
_GAME_DAY_CACHE: dict[str, int | None] = {}


def game_id_day(game_id: str) -> int | None:
    """Days since the epoch of a gameId's UTC date prefix (None if it has none)."""
    day = _GAME_DAY_CACHE.get(game_id, -1)
    if day == -1:
        m = _GAME_ID_DATE.match(game_id)
        try:
            d = datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC) if m else None
        except ValueError:
            d = None
        day = (d - EPOCH).days if d else None
        if len(_GAME_DAY_CACHE) > 100_000:
            _GAME_DAY_CACHE.clear()
        _GAME_DAY_CACHE[game_id] = day
    return day


# ---------------------------------------------------------------- format detection


def classify_object(obj: Any) -> str:
    """The format a single parsed line belongs to (UNKNOWN if none)."""
    if not isinstance(obj, dict):
        return UNKNOWN
    if "_metadata" in obj and len(obj) == 1:
        return HEADER
    if isinstance(obj.get("type"), str):
        return GAME
    if "event_type" in obj and "timestamp" in obj and "data" in obj:
        return FEED_SAMPLE
    if "event" in obj and "ts" in obj and "seq" in obj:
        return CAPTURE
    return UNKNOWN


def detect_format(lines: list[bytes]) -> tuple[str, str]:
    """(format, detail) from the first line that parses as a JSON object."""
    tried = 0
    for raw in lines:
        text = raw.strip()
        if not text:
            continue
        tried += 1
        if tried > _DETECT_LINES:
            break
        try:
            obj = json.loads(text)
        except ValueError:
            continue
        fmt = classify_object(obj)
        if fmt != UNKNOWN:
            return fmt, ""
        keys = sorted(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        return UNKNOWN, f"first JSON line has keys {keys}"
    return UNKNOWN, f"no JSON object in the first {_DETECT_LINES} non-blank lines"


# ---------------------------------------------------------------- record building


class _Builder:
    """Turns parsed objects of one file into LegacyRecords (or a reason they are not records)."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.meta_game_id: str | None = None
        self.prev_ts: int | None = None  # the last record's UTC time: places ambiguous DST times

    def build(self, obj: Any, text: str, line_no: int, salvaged: bool) -> LegacyRecord | str:
        rec = self._build(obj, text, line_no, salvaged)
        if not isinstance(rec, str) and rec.ts_us >= 0:
            self.prev_ts = rec.ts_us
        return rec

    def _build(self, obj: Any, text: str, line_no: int, salvaged: bool) -> LegacyRecord | str:
        after = self.prev_ts
        if not isinstance(obj, dict):
            return f"valid JSON but not a {self.fmt} record (a {type(obj).__name__})"
        fmt = self.fmt
        if fmt == GAME:
            kind = obj.get("type")
            if type(kind) is not str:
                return "valid JSON but not a game record (no string 'type')"
            ts_value = obj.get("timestamp")
            ts = _fast_local_us(ts_value, after) if type(ts_value) is str else None
            if ts is None:
                ts = _record_ts(obj, _TS_KEYS, after)
            if ts is None:
                return "game record without a usable timestamp"
            gid = obj.get("game_id") or obj.get("gameId")
            return LegacyRecord(
                0, line_no, ts, kind, "legacy." + kind, obj, obj, [], text, salvaged,
                gid if type(gid) is str else None,
            )
        if fmt == HEADER:
            if "_metadata" in obj and len(obj) == 1:
                meta = obj["_metadata"]
                meta = meta if isinstance(meta, dict) else {}
                gid = meta.get("game_id", meta.get("gameId"))
                if isinstance(gid, str):
                    self.meta_game_id = gid
                ts = _record_ts(meta, _META_TS_KEYS, after)
                # A header without its own time takes its neighbour's (fixed up in read_legacy_file).
                return LegacyRecord(
                    0, line_no, ts if ts is not None else -1, "metadata", "legacy.metadata", obj, obj, [],
                    text, salvaged, game_id=gid if isinstance(gid, str) else None,
                )
            ts = _record_ts(obj, _TS_KEYS, after)
            if ts is None:
                return "tick record without a usable timestamp"
            gid = obj.get("game_id", obj.get("gameId", self.meta_game_id))
            return LegacyRecord(
                0, line_no, ts, "tick", "legacy.tick", obj, obj, [], text, salvaged,
                game_id=gid if isinstance(gid, str) else None,
            )
        if fmt == FEED_SAMPLE:
            name, ts_value = obj.get("event_type"), obj.get("timestamp")
        else:  # CAPTURE
            name, ts_value = obj.get("event"), obj.get("ts")
        if not isinstance(name, str) or "data" not in obj and fmt == FEED_SAMPLE:
            return f"valid JSON but not a {fmt} record (no event name/data)"
        ts = to_utc_us(ts_value, after)
        if ts is None:
            return f"{fmt} record without a usable timestamp"
        args = socketio_args(obj.get("data"))
        payload = args[-1]
        gid, pid, user = envelope_ids(payload)
        direction = obj.get("direction")
        return LegacyRecord(
            0, line_no, ts, name, name, obj, payload, args, text, salvaged,
            game_id=gid, player_id=pid, username=user,
            direction=direction if direction in ("received", "sent") else "received",
        )


# ---------------------------------------------------------------- salvage


def _candidates(text: str, openers: tuple[str, ...]) -> list[int]:
    out: list[int] = []
    for opener in openers:
        pos = text.find(opener)
        while pos >= 0:
            out.append(pos)
            pos = text.find(opener, pos + 1)
    return sorted(set(out))


def _salvage(text: str, openers: tuple[str, ...]) -> tuple[list[tuple[int, int, Any]], list[int]]:
    """Complete objects decodable at record openers: ([(start, end, obj)], all candidate starts)."""
    found: list[tuple[int, int, Any]] = []
    starts = _candidates(text, openers)
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
    return found, starts


def _salvage_records(
    builder: _Builder, text: str, no: int, openers: tuple[str, ...]
) -> tuple[list[LegacyRecord], list[tuple[int, int]], list[int]]:
    found, starts = _salvage(text, openers)
    good: list[LegacyRecord] = []
    spans: list[tuple[int, int]] = []
    for a, b, piece in found:
        rec = builder.build(piece, text[a:b], no, True)
        if not isinstance(rec, str):
            good.append(rec)
            spans.append((a, b))
    return good, spans, starts


def _split_fragments(text: str, spans: list[tuple[int, int]], starts: list[int]) -> list[tuple[int, int]]:
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


def _unsalvageable_reason(text: str, error: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("#"):
        return "human note (line starts with '#'), not a record"
    if not stripped.startswith(("{", "[")):
        return "line starts mid-record (no record start); nothing complete to salvage"
    return f"corrupt JSON, no complete record in the line: {error}"


# ---------------------------------------------------------------- the reader


def relative_name(path: Path, root: Path | None) -> str:
    """The file's key: its name relative to `root` when it lies under it, else its absolute resolved
    path (a bare name would let two folders' same-named files overwrite each other's rows)."""
    path = path.resolve()
    if root is not None:
        try:
            return path.relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def read_legacy_file(path: str | Path, root: str | Path | None = None) -> LegacyFile:
    """Read and classify every line of one legacy file. Never raises on bad content."""
    path = Path(path)
    st = path.stat()
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last line
    fmt, detail = detect_format(lines)
    out = LegacyFile(
        path=path, rel=relative_name(path, Path(root) if root else None), format=fmt, size=len(data),
        mtime_ns=st.st_mtime_ns, sha256=hashlib.sha256(data).hexdigest(), detail=detail,
    )
    c = out.counters
    c.lines = len(lines)
    if fmt == UNKNOWN:
        for no, raw in enumerate(lines, 1):
            if raw.strip():
                c.quarantined += 1
                out.quarantined.append(QuarantineItem(no, raw, f"unknown legacy format ({detail})"))
            else:
                c.blank += 1
        return out

    builder = _Builder(fmt)
    openers = _OPENERS[fmt]
    learned: set[str] = set(openers)  # first-key prefixes of whole records seen so far, e.g. '{"tick"'
    records = out.records
    for no, raw in enumerate(lines, 1):
        line = raw.rstrip(b"\r")
        if not line.strip():
            c.blank += 1
            continue
        text = line.decode("utf-8", errors="replace").strip()
        try:
            obj, end = _SCAN(text, 0)
            if end != len(text):
                raise ValueError("extra data")
        except (ValueError, StopIteration):
            error = _json_error(text)
        else:
            rec = builder.build(obj, text, no, False)
            if isinstance(rec, str):
                c.quarantined += 1
                out.quarantined.append(QuarantineItem(no, raw, rec))
            else:
                c.imported += 1
                records.append(rec)
                if fmt == HEADER and len(learned) < 8:  # bare tick dicts: learn their first key
                    key_end = text.find('"', 2)
                    if text.startswith('{"') and key_end > 0 and text[: key_end + 1] not in learned:
                        learned.add(text[: key_end + 1])
                        openers = tuple(sorted(learned))
            continue

        good, spans, starts = _salvage_records(builder, text, no, openers)
        if not good:  # no known opener worked: try every object start (e.g. a record type not seen yet)
            good, spans, starts = _salvage_records(builder, text, no, ('{"',))
        if not good:
            c.quarantined += 1
            out.quarantined.append(QuarantineItem(no, raw, _unsalvageable_reason(text, error)))
            continue
        c.salvaged += 1
        c.salvaged_records += len(good)
        records.extend(good)
        for a, b in _split_fragments(text, spans, starts):
            c.fragments += 1
            out.quarantined.append(QuarantineItem(
                no, text[a:b].encode(), f"unrecovered fragment (chars {a}-{b}) of a salvaged line "
                f"({len(good)} record(s) recovered): interleaved or truncated write", fragment=True,
            ))

    _finish(out)
    return out


def _finish(out: LegacyFile) -> None:
    """Number the records, give time-less header lines their neighbour's time, check gameId dates."""
    records = out.records
    for i, rec in enumerate(records):
        rec.index = i
    missing = [i for i, r in enumerate(records) if r.ts_us < 0]
    if missing:
        known = [i for i, r in enumerate(records) if r.ts_us >= 0]
        for i in missing:
            after = [k for k in known if k > i]
            before = [k for k in known if k < i]
            near = after[0] if after else before[-1] if before else None
            records[i].ts_us = records[near].ts_us if near is not None else out.mtime_ns // 1000
    mismatch = 0
    for rec in records:
        if rec.game_id:
            day = game_id_day(rec.game_id)
            if day is not None and day != rec.ts_us // _US_PER_DAY:
                mismatch += 1
    out.counters.gameid_date_mismatch = mismatch
