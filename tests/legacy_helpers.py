"""Shared helpers for the legacy import tests: the real fixture folder and plain-Python line counts
computed without the reader (so the tests check the reader against something independent)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "legacy" / "rugs_recordings"
RAW_SAMPLES = Path(__file__).resolve().parent / "fixtures" / "raw" / "websocket_raw_samples.jsonl"


@dataclass
class PlainCounts:
    lines: int = 0
    blank: int = 0
    clean: int = 0  # lines json.loads accepts whole
    broken: list[int] = field(default_factory=list)  # 1-based numbers of non-blank lines it rejects
    clean_texts: dict[int, str] = field(default_factory=dict)


def plain_counts(path: Path) -> PlainCounts:
    out = PlainCounts()
    with open(path, encoding="utf-8", newline="") as fh:
        for no, line in enumerate(fh, 1):
            out.lines += 1
            text = line.rstrip("\n")
            if not text.strip():
                out.blank += 1
                continue
            try:
                json.loads(text)
            except ValueError:
                out.broken.append(no)
            else:
                out.clean += 1
                out.clean_texts[no] = text.strip()
    return out


def line_of(path: Path, no: int) -> str:
    with open(path, encoding="utf-8", newline="") as fh:
        for i, line in enumerate(fh, 1):
            if i == no:
                return line.rstrip("\n")
    raise IndexError(no)


def copy_fixtures(dst: Path, names: list[str] | None = None) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in sorted(FIXTURES.glob("*.jsonl")):
        if names is None or f.name in names:
            shutil.copy2(f, dst / f.name)
    return dst


def query(sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def tree(root: Path) -> dict[str, int]:
    """relative path -> mtime_ns of every file under root."""
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in sorted(root.rglob("*")) if p.is_file()}
