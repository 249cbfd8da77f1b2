"""The physical lines of a legacy file, read in blocks so memory is bounded by the line limit.

Lines are split on ``\\n`` exactly as ``data.split(b"\\n")`` would (a last line without ``\\n``
counts; an empty file has no lines), but the file is never held whole: a line longer than
`max_line_bytes` (the ``\\n`` not counted) is not accumulated past the limit. It comes out as an
`OversizedLine` holding its size and its first bytes, so one 200 MB line costs about the limit in
memory, not several times the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
OVERSIZED_PREFIX_BYTES = 64 * 1024  # what an oversized line keeps of itself, for quarantine
BLOCK_BYTES = 1024 * 1024


@dataclass(slots=True)
class OversizedLine:
    """A line over the limit: its size in bytes and its first bytes (the rest was read and dropped)."""

    prefix: bytes
    size: int
    blank: bool  # only whitespace, like a blank line

    def reason(self, max_line_bytes: int) -> str:
        return (f"line of {self.size} bytes is over the {max_line_bytes}-byte line limit; raw holds only "
                f"its first {len(self.prefix)} bytes")


def _is_blank(piece: bytes) -> bool:
    return not piece or piece.isspace()


def _first_bytes(pieces: list[bytes], n: int) -> bytes:
    out = bytearray()
    for piece in pieces:
        if len(out) >= n:
            break
        out += piece[: n - len(out)]
    return bytes(out)


class _LineInProgress:
    """The pieces of a line that spans blocks, kept only up to the limit."""

    __slots__ = ("blank", "keep", "limit", "pieces", "prefix", "size")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.keep = min(OVERSIZED_PREFIX_BYTES, limit)
        self.reset()

    def reset(self) -> None:
        self.pieces: list[bytes] = []
        self.size = 0
        self.prefix: bytes | None = None  # set once the line went over the limit
        self.blank = True

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.prefix is None and self.size <= self.limit:
            self.pieces.append(piece)
            return
        if self.prefix is None:  # just went over: keep the first bytes, drop the rest
            self.blank = all(_is_blank(p) for p in self.pieces)
            self.prefix = _first_bytes([*self.pieces, piece], self.keep)
            self.pieces = []
        if self.blank:
            self.blank = _is_blank(piece)

    def take(self) -> bytes | OversizedLine:
        if self.prefix is not None:
            line: bytes | OversizedLine = OversizedLine(self.prefix, self.size, self.blank)
        else:
            line = self.pieces[0] if len(self.pieces) == 1 else b"".join(self.pieces)
        self.reset()
        return line


def iter_lines(fh: BinaryIO, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, digest: Any = None,
               block_bytes: int = BLOCK_BYTES) -> Iterator[bytes | OversizedLine]:
    """Each line of `fh` from its current position, without its ``\\n``: bytes, or an `OversizedLine`.
    `digest` (a hashlib object), when given, is fed every byte read."""
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be positive, not {max_line_bytes}")
    current = _LineInProgress(max_line_bytes)
    while block := fh.read(block_bytes):
        if digest is not None:
            digest.update(block)
        *complete, tail = block.split(b"\n")
        if complete:
            current.add(complete[0])  # ends the line the previous block left open
            yield current.take()
            rest = complete[1:]
            if rest and max(map(len, rest)) <= max_line_bytes:
                yield from rest  # the usual block: every line within the limit
            else:
                for piece in rest:
                    if len(piece) <= max_line_bytes:
                        yield piece
                    else:
                        current.add(piece)
                        yield current.take()
        current.add(tail)
    if current.size:
        yield current.take()
