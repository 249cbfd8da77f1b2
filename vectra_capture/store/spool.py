"""The capture write-ahead log: append-only segment files under spool/<session_id>/.

Record framing: `@<header json>\n<payload bytes>\n`, the header holding the payload's length
and CRC32. Framing by length (not by newline) keeps payloads verbatim with no escaping; the
CRC tells a torn tail (kill -9 mid-write) from a whole record.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from vectra_capture.store.atomic import ensure_dir
from vectra_capture.store.envelope import RawRecord

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".wal"


@dataclass
class SegmentContents:
    records: list[RawRecord] = field(default_factory=list)
    torn_tail: bytes = b""  # bytes after the last whole record (a write cut short by a crash)
    torn_reason: str = ""


class SpoolSegment:
    """One open segment: buffered appends, explicit flush+fsync."""

    def __init__(self, path: Path) -> None:
        ensure_dir(path.parent)
        self.path = path
        self._fh = open(path, "ab", buffering=1 << 20)  # noqa: SIM115 - lives as long as the segment
        self.records = 0
        self.bytes = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None

    def append(self, rec: RawRecord) -> None:
        header = rec.header()
        header["n"] = len(rec.raw)
        header["crc"] = zlib.crc32(rec.raw)
        line = b"@" + json.dumps(header, separators=(",", ":")).encode() + b"\n"
        self._fh.write(line)
        self._fh.write(rec.raw)
        self._fh.write(b"\n")
        self.records += 1
        self.bytes += len(line) + len(rec.raw) + 1
        if self.first_seq is None:
            self.first_seq = rec.seq
        self.last_seq = rec.seq

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def segment_path(spool_dir: Path, session_id: str, number: int) -> Path:
    return spool_dir / session_id / f"{number:08d}{SEGMENT_SUFFIX}"


def list_segments(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.glob(f"*/*{SEGMENT_SUFFIX}")) if spool_dir.is_dir() else []


def read_segment(path: Path) -> SegmentContents:
    """Every whole record of a segment, plus whatever trailing bytes do not form one."""
    out = parse_records(path.read_bytes())
    if out.torn_tail:
        log.warning("spool segment %s: %d trailing bytes not a whole record (%s)", path, len(out.torn_tail),
                    out.torn_reason)
    return out


def read_new_records(path: Path, offset: int) -> tuple[list[RawRecord], int]:
    """Read-only tail of a segment another process may be appending to: the whole records after
    byte `offset`, and the offset just past the last of them. A partial record at the end (not yet
    flushed) is left for the next call, never reported as torn."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    contents = parse_records(data)
    return contents.records, offset + len(data) - len(contents.torn_tail)


def parse_records(data: bytes) -> SegmentContents:
    out = SegmentContents()
    pos = 0
    while pos < len(data):
        start = pos
        nl = data.find(b"\n", pos)
        reason = ""
        if data[pos : pos + 1] != b"@" or nl < 0:
            reason = "torn or unframed header"
        else:
            try:
                header = json.loads(data[pos + 1 : nl])
                n, crc = header.pop("n"), header.pop("crc")
                payload = data[nl + 1 : nl + 1 + n]
                if len(payload) != n or data[nl + 1 + n : nl + 2 + n] != b"\n":
                    reason = "payload cut short"
                elif zlib.crc32(payload) != crc:
                    reason = "payload checksum mismatch"
                else:
                    out.records.append(RawRecord.from_header(header, payload))
                    pos = nl + 2 + n
                    continue
            except (ValueError, KeyError, TypeError) as exc:
                reason = f"unreadable header: {exc}"
        out.torn_tail = data[start:]
        out.torn_reason = reason
        break
    return out
