"""Read one legacy JSONL recording into records and quarantine items, accounting for every line.

The file is read twice in blocks, never whole: a first pass detects the format (`formats.py`), the
second builds records (`records.py`), salvages broken lines (`salvage.py`) and hashes the bytes.
Timestamps are converted to UTC as described in `timestamps.py`.

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
  mid-record, truncated records, valid JSON that is not a record, records without a usable timestamp,
  lines over the line limit). Each is one quarantine item holding the original line; a line over the
  limit keeps only its first bytes, and its reason gives its size. ``oversized`` counts those.

So: records = imported + salvaged_records; quarantine items = quarantined + fragments.
``gameid_date_mismatch`` counts records whose gameId date (``YYYYMMDD-...``, a UTC date) differs
from the record's UTC date.
"""

from __future__ import annotations

import hashlib
import json
import json.scanner
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from vectra_capture.legacy.formats import HEADER, RECORD_OPENERS, UNKNOWN, detect_format
from vectra_capture.legacy.lines import DEFAULT_MAX_LINE_BYTES, OversizedLine, iter_lines
from vectra_capture.legacy.records import GAME_ID, LINE_NO, TS, LegacyRecord, RecordBuilder, Row
from vectra_capture.legacy.salvage import fragment_reason, salvage_line, unsalvageable_reason
from vectra_capture.legacy.timestamps import game_id_day
from vectra_capture.store.partitions import US_PER_DAY

# The C scanner behind json.loads, without its Python wrapper (two regex calls per line): the hot path.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())
_DETECT_BLOCK_BYTES = 16 * 1024  # the format is nearly always decided by the first line
_LEARNED_OPENERS_MAX = 8  # header files: how many first-key openers of bare tick dicts to learn


_TS_OF, _GAME_ID_OF = itemgetter(TS), itemgetter(GAME_ID)


@dataclass(slots=True)
class QuarantineItem:
    line_no: int
    raw: bytes  # the original line (the first bytes of an oversized one), or a salvaged line's fragment
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
    oversized: int = 0  # of the quarantined lines, those over the line limit
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
    records: list[LegacyRecord] = field(default_factory=list)  # read with keep_objects (the default)
    rows: list[Row] = field(default_factory=list)  # read with keep_objects=False: the lean records
    quarantined: list[QuarantineItem] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    detail: str = ""  # why the format is unknown

    @property
    def game_ids(self) -> set[str]:
        if self.rows:
            ids = set(map(_GAME_ID_OF, self.rows))
            ids.discard(None)
            ids.discard("")
            return ids
        return {r.game_id for r in self.records if r.game_id}


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


def read_legacy_file(
    path: str | Path, root: str | Path | None = None, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    keep_objects: bool = True, rel: str | None = None,
) -> LegacyFile:
    """Read and classify every line of one legacy file. Never raises on bad content; memory is bounded
    by `max_line_bytes` per line (longer lines are quarantined with their size), not by the file.

    `keep_objects=False` (the importer) gives lean records in `rows` instead of `records`: one `Row`
    tuple each, only what its row needs (raw_json built, the parsed dicts dropped as soon as it is
    made), so a file's thousands of parsed dicts are never alive together (memory, and the cyclic GC
    that otherwise re-walks them all again and again) and no object is made per record. `rel`: the
    file's key when the caller has it already (`relative_name` resolves the path)."""
    path = Path(path)
    with path.open("rb") as fh:
        mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
        fmt, detail = detect_format(iter_lines(fh, max_line_bytes, block_bytes=_DETECT_BLOCK_BYTES))
        fh.seek(0)
        digest = hashlib.sha256()
        out = LegacyFile(
            path=path, rel=rel or relative_name(path, Path(root) if root else None), format=fmt, size=0,
            mtime_ns=mtime_ns, sha256="", detail=detail,
        )
        lines = iter_lines(fh, max_line_bytes, digest)
        if fmt == UNKNOWN:
            _quarantine_every_line(out, lines, max_line_bytes)
        else:
            _read_records(out, lines, max_line_bytes, keep_objects)
        out.size = fh.tell()
    out.sha256 = digest.hexdigest()
    return out


def _quarantine_oversized(out: LegacyFile, no: int, line: OversizedLine, max_line_bytes: int,
                          context: str = "") -> None:
    """Quarantined with its size and first bytes; a whitespace-only one is blank, as a short one is."""
    c = out.counters
    if line.blank:
        c.blank += 1
        return
    c.quarantined += 1
    c.oversized += 1
    out.quarantined.append(QuarantineItem(no, line.prefix, context + line.reason(max_line_bytes)))


def _quarantine_every_line(out: LegacyFile, lines: Iterator[bytes | OversizedLine], max_line_bytes: int) -> None:
    """An unknown format: every non-blank line goes to quarantine with the reason."""
    c = out.counters
    reason = f"unknown legacy format ({out.detail})"
    no = 0
    for no, raw in enumerate(lines, 1):
        if isinstance(raw, OversizedLine):
            _quarantine_oversized(out, no, raw, max_line_bytes, reason + "; ")
        elif raw.strip():
            c.quarantined += 1
            out.quarantined.append(QuarantineItem(no, raw, reason))
        else:
            c.blank += 1
    c.lines = no


def _read_records(out: LegacyFile, lines: Iterator[bytes | OversizedLine], max_line_bytes: int,
                  keep_objects: bool = True) -> None:
    fmt = out.format
    c = out.counters
    builder = RecordBuilder(fmt, lean=not keep_objects)
    build = builder.build
    openers = RECORD_OPENERS[fmt]
    learned: set[str] = set(openers)  # first-key prefixes of whole records seen so far, e.g. '{"tick"'
    learning = fmt == HEADER
    records: list[LegacyRecord] | list[Row] = out.records if keep_objects else out.rows
    keep = records.append
    no = imported = 0
    for no, raw in enumerate(lines, 1):
        if type(raw) is OversizedLine:
            _quarantine_oversized(out, no, raw, max_line_bytes)
            continue
        # str.strip() drops the \r too; a line of non-ASCII whitespace only (e.g. U+00A0) is not
        # blank (bytes.strip() keeps it) and goes on to be quarantined as before
        text = raw.decode("utf-8", "replace").strip()
        if not text and not raw.strip():
            c.blank += 1
            continue
        try:
            obj, end = _SCAN(text, 0)
            parsed = end == len(text)
        except (ValueError, StopIteration):
            parsed = False
        if parsed:
            rec = build(obj, text, no, False)
            if type(rec) is str:
                c.quarantined += 1
                out.quarantined.append(QuarantineItem(no, raw, rec))
                continue
            imported += 1
            keep(rec)
            if learning and len(learned) < _LEARNED_OPENERS_MAX:  # bare tick dicts: learn their first key
                key_end = text.find('"', 2)
                if text.startswith('{"') and key_end > 0 and text[: key_end + 1] not in learned:
                    learned.add(text[: key_end + 1])
                    openers = tuple(sorted(learned))
            continue

        salvage = salvage_line(builder, text, no, openers)
        if not salvage.records:
            c.quarantined += 1
            out.quarantined.append(QuarantineItem(no, raw, unsalvageable_reason(text)))
            continue
        c.salvaged += 1
        c.salvaged_records += len(salvage.records)
        records.extend(salvage.records)
        for a, b in salvage.fragments:
            c.fragments += 1
            out.quarantined.append(QuarantineItem(
                no, text[a:b].encode(), fragment_reason(a, b, len(salvage.records)), fragment=True,
            ))
    c.lines = no
    c.imported = imported
    if keep_objects:
        _finish_records(out)
    else:
        _finish_rows(out)


def _neighbour_times(times: list[int], fallback: int) -> dict[int, int]:
    """index -> time for the records without one (NO_TIME, or any time before 1970): the next
    record's time, else the previous one's, else `fallback` (the file's mtime)."""
    if not times or min(times) >= 0:
        return {}
    missing = [i for i, t in enumerate(times) if t < 0]
    known = [i for i, t in enumerate(times) if t >= 0]
    out = {}
    for i in missing:
        after = [k for k in known if k > i]
        before = [k for k in known if k < i]
        near = after[0] if after else before[-1] if before else None
        out[i] = times[near] if near is not None else fallback
    return out


def _gameid_date_mismatch(game_ids: Iterable[str | None], times: list[int]) -> int:
    """How many records have a gameId whose date prefix is not their UTC date (checked once per
    distinct pair; a file nearly always lies within one UTC date)."""
    if not times:
        return 0
    first = min(times) // US_PER_DAY
    if first == max(times) // US_PER_DAY:
        pairs = {(gid, first): n for gid, n in Counter(game_ids).items()}
    else:
        pairs = Counter(zip(game_ids, [t // US_PER_DAY for t in times], strict=True))
    mismatch = 0
    for (gid, day), n in pairs.items():
        if gid:
            gid_day = game_id_day(gid)
            if gid_day is not None and gid_day != day:
                mismatch += n
    return mismatch


def _finish_records(out: LegacyFile) -> None:
    """Number the records, give time-less header lines their neighbour's time, check gameId dates."""
    records = out.records
    for i, rec in enumerate(records):
        rec.index = i
    for i, ts in _neighbour_times([r.ts_us for r in records], out.mtime_ns // 1000).items():
        records[i].ts_us = ts
    out.counters.gameid_date_mismatch = _gameid_date_mismatch(
        [r.game_id for r in records], [r.ts_us for r in records])


def _finish_rows(out: LegacyFile) -> None:
    """`_finish_records` for lean records (a row's seq is its index already)."""
    rows = out.rows
    times = list(map(_TS_OF, rows))
    for i, ts in _neighbour_times(times, out.mtime_ns // 1000).items():
        rows[i] = (ts, *rows[i][LINE_NO:])
        times[i] = ts
    out.counters.gameid_date_mismatch = _gameid_date_mismatch(map(_GAME_ID_OF, rows), times)
