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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vectra_capture.store.atomic import ensure_dir
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.modes import open_private

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".wal"
WRITE_CHUNK = 1 << 20
MAX_HEADER_BYTES = 1 << 20


@dataclass
class SegmentContents:
    records: list[RawRecord] = field(default_factory=list)
    torn_tail: bytes = b""  # bytes after the last whole record (a write cut short by a crash)
    torn_reason: str = ""


class SpoolSegment:
    """One segment. Appends are encoded into a memory buffer; `write_out` hands the kernel exactly
    the bytes it does not have yet (so retrying after ENOSPC neither repeats nor skips a byte);
    `sync` is write_out + fsync. The file is opened on the first write, so a full disk cannot stop
    appends: they wait in the buffer, which the caller bounds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._buf = bytearray()
        self._written = 0  # bytes at the start of _buf already in the file
        self.records = 0
        self.bytes = 0  # encoded bytes appended (written or not)
        self.first_seq: int | None = None
        self.last_seq: int | None = None

    def append(self, rec: RawRecord) -> int:
        """Encode one record into the buffer; returns its encoded size."""
        header = rec.header()
        header["n"] = len(rec.raw)
        header["crc"] = zlib.crc32(rec.raw)
        line = b"@" + json.dumps(header, separators=(",", ":")).encode() + b"\n"
        self._buf += line
        self._buf += rec.raw
        self._buf += b"\n"
        size = len(line) + len(rec.raw) + 1
        self.records += 1
        self.bytes += size
        if self.first_seq is None:
            self.first_seq = rec.seq
        self.last_seq = rec.seq
        return size

    @property
    def unwritten(self) -> int:
        """Bytes appended but not yet handed to the kernel."""
        return len(self._buf) - self._written

    @property
    def buffered(self) -> int:
        """Bytes this segment holds in memory."""
        return len(self._buf)

    def write_out(self) -> None:
        if self._fd is None:
            ensure_dir(self.path.parent)
            self._fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            with memoryview(self._buf) as view:
                while self._written < len(self._buf):
                    with view[self._written : self._written + WRITE_CHUNK] as chunk:
                        self._written += os.write(self._fd, chunk)
        except OSError:
            if self._written > len(self._buf) // 2:  # give back what reached the file
                del self._buf[: self._written]
                self._written = 0
            raise
        self._buf.clear()
        self._written = 0

    def sync(self) -> None:
        self.write_out()
        assert self._fd is not None
        os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close; if the sync fails (full disk) the segment stays open for a retry."""
        if self._fd is None and not self._buf:
            return
        self.sync()
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None

    @property
    def closed(self) -> bool:
        return self._fd is None and not self._buf


def segment_path(spool_dir: Path, session_id: str, number: int) -> Path:
    return spool_dir / session_id / f"{number:08d}{SEGMENT_SUFFIX}"


def list_segments(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.glob(f"*/*{SEGMENT_SUFFIX}")) if spool_dir.is_dir() else []


class SegmentReader:
    """Streams a segment's whole records (memory: one record at a time). After iterating,
    `torn_tail` / `torn_reason` hold whatever trailing bytes do not form a whole record, and
    `offset` is the number of bytes consumed (the file's size once done)."""

    def __init__(self, path: Path, offset: int = 0, tailing: bool = False) -> None:
        self.path = path
        self.offset = offset
        self.tailing = tailing  # a live segment: trailing bytes are a record still being written
        self.torn_tail = b""
        self.torn_reason = ""

    def __iter__(self) -> Iterator[RawRecord]:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            while True:
                start = fh.tell()
                line = fh.readline(MAX_HEADER_BYTES)
                if not line:
                    self.offset = start
                    return
                reason = ""
                if not line.startswith(b"@") or not line.endswith(b"\n"):
                    reason = "torn or unframed header"
                else:
                    try:
                        header = json.loads(line[1:-1])
                        n, crc = header.pop("n"), header.pop("crc")
                        if not isinstance(n, int) or n < 0:
                            raise ValueError(f"bad payload length {n!r}")
                        payload = fh.read(n)
                        if len(payload) != n or fh.read(1) != b"\n":
                            reason = "payload cut short"
                        elif zlib.crc32(payload) != crc:
                            reason = "payload checksum mismatch"
                        else:
                            self.offset = fh.tell()
                            yield RawRecord.from_header(header, payload)
                            continue
                    except (ValueError, KeyError, TypeError, AttributeError) as exc:
                        reason = f"unreadable header: {exc}"
                if self.tailing:  # not torn: not yet flushed; the next read starts here
                    self.offset = start
                    return
                fh.seek(start)
                self.torn_tail = fh.read()
                self.torn_reason = reason
                self.offset = fh.tell()
                log.warning("spool segment %s: %d trailing bytes not a whole record (%s)",
                            self.path, len(self.torn_tail), reason)
                return


def read_segment(path: Path) -> SegmentContents:
    """Every whole record of a segment, plus whatever trailing bytes do not form one (in memory:
    for tests and small segments; compaction streams with SegmentReader)."""
    reader = SegmentReader(path)
    records = list(reader)
    return SegmentContents(records, reader.torn_tail, reader.torn_reason)



def read_new_records(path: Path, offset: int) -> tuple[list[RawRecord], int]:
    """Read-only tail of a segment another process may be appending to: the whole records after
    byte `offset`, and the offset just past the last of them. A partial record at the end (not yet
    flushed) is left for the next call, never reported as torn."""
    reader = SegmentReader(path, offset, tailing=True)
    records = list(reader)
    return records, reader.offset
