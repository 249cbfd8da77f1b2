"""Lines over the line limit: quarantined with their size and first bytes while the other lines
import, and memory bounded by the limit rather than by the file (a 200 MB line measured in a
subprocess). Real files, real Parquet, DuckDB to read back."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy_helpers import query

from vectra_capture.legacy.formats import GAME
from vectra_capture.legacy.importer import import_legacy
from vectra_capture.legacy.lines import DEFAULT_MAX_LINE_BYTES, OversizedLine, iter_lines
from vectra_capture.legacy.reader import read_legacy_file
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main

LIMIT = 1_000


def _tick(second: int, **extra: object) -> str:
    return json.dumps({"type": "tick", "timestamp": f"2025-10-31T15:05:{second:02d}", "game_id": "20251031-x",
                       **extra})


def _file_with_a_long_line(folder: Path) -> tuple[Path, bytes]:
    """A game file whose FIRST line is a 5,000-byte record (so format detection must look past it)."""
    folder.mkdir(parents=True, exist_ok=True)
    long_line = _tick(1, blob="x" * 5_000).encode()
    path = folder / "game_long.jsonl"
    path.write_bytes(b"\n".join([long_line, _tick(2).encode(), b"", _tick(3).encode()]) + b"\n")
    return path, long_line


def test_a_line_over_the_limit_is_quarantined_with_its_size_and_the_rest_imports(tmp_path: Path) -> None:
    path, long_line = _file_with_a_long_line(tmp_path / "legacy")
    lf = read_legacy_file(path, path.parent, max_line_bytes=LIMIT)
    c = lf.counters
    assert lf.format == GAME and c.balanced()
    assert (c.lines, c.imported, c.quarantined, c.oversized, c.blank) == (4, 2, 1, 1, 1)
    assert lf.size == path.stat().st_size and [r.line_no for r in lf.records] == [2, 4]

    paths = DataPaths.resolve(tmp_path / "data")
    s = import_legacy(None, paths, legacy_root=path.parent, max_line_bytes=LIMIT)
    assert (s["records"], s["quarantined"], s["oversized"], s["failed"]) == (2, 1, 1, 0)
    rows = query(f"SELECT origin_line FROM read_parquet('{paths.glob('ws_event')}') ORDER BY 1")
    assert rows == [(2,), (4,)]
    [(origin, reason, raw)] = query(
        f"SELECT origin, reason, raw FROM read_parquet('{paths.quarantine}/replay/*/*.parquet')")
    assert origin == "game_long.jsonl:1"
    assert f"line of {len(long_line)} bytes" in reason and f"{LIMIT}-byte line limit" in reason
    assert f"first {LIMIT} bytes" in reason and raw == long_line[:LIMIT]

    # a larger limit re-imports the file (its manifest says a line was cut): the line is a record now
    again = import_legacy(None, paths, legacy_root=path.parent, max_line_bytes=len(long_line))
    assert (again["imported_files"], again["records"], again["quarantined"], again["oversized"]) == (1, 3, 0, 0)
    assert import_legacy(None, paths, legacy_root=path.parent, max_line_bytes=len(long_line))["skipped"] == 1


def test_cli_max_line_bytes(tmp_path: Path) -> None:
    path, _ = _file_with_a_long_line(tmp_path / "legacy")
    args = ["legacy", "import", str(path.parent), "--data-dir", str(tmp_path / "data"), "--json"]
    res = CliRunner().invoke(main, [*args, "--max-line-bytes", str(LIMIT)])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert (s["records"], s["oversized"]) == (2, 1)
    assert CliRunner().invoke(main, [*args, "--max-line-bytes", "0"]).exit_code == 2  # refused, not run


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"", b"\n", b" ", b"\r", b"{}", b"abc", b"x" * 13, b"  \t"]), max_size=12)
    .map(b"".join),
    limit=st.integers(1, 30),
    block=st.integers(1, 9),
)
def test_lines_match_a_plain_split_whatever_the_blocks_and_limit(data: bytes, limit: int, block: int) -> None:
    """The block reader gives the lines `data.split(b"\\n")` gives (minus the empty piece after a final
    newline); a line over the limit comes back as its size, its first bytes and whether it is blank."""
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    got = list(iter_lines(io.BytesIO(data), limit, block_bytes=block))
    assert len(got) == len(expected)
    for line, want in zip(got, expected, strict=True):
        if len(want) <= limit:
            assert line == want
        else:
            assert isinstance(line, OversizedLine)
            assert (line.size, line.prefix, line.blank) == (len(want), want[:limit], not want.strip())


_MEASURE = """
import json, resource, sys
from pathlib import Path
from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store.layout import DataPaths
src, data = Path(sys.argv[1]), Path(sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s = import_legacy(None, DataPaths.resolve(data), legacy_root=src)
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps({"growth": growth, **{k: s[k] for k in ("lines", "records", "quarantined", "oversized", "bytes")}}))
"""


def test_a_200_mb_line_costs_about_the_limit_in_memory_not_the_file(tmp_path: Path) -> None:
    """Before the block reader, importing a file with one 200 MB line took ~1.5 GB (whole file, its
    split, its decoded text, the parse). Now the line is quarantined and peak RSS grows by about the
    64 MiB limit."""
    src = tmp_path / "legacy"
    src.mkdir()
    big = src / "game_huge.jsonl"
    with big.open("wb") as fh:
        fh.write(_tick(1)[:-1].encode() + b', "blob": "')
        block = b"x" * (1 << 20)
        for _ in range(200):
            fh.write(block)
        fh.write(b'"}\n' + _tick(2).encode() + b"\n")
    size = big.stat().st_size
    assert size > 200 * (1 << 20) > DEFAULT_MAX_LINE_BYTES
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(src), str(tmp_path / "data")],
                         capture_output=True, text=True, check=True, timeout=600)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert (got["lines"], got["records"], got["quarantined"], got["oversized"], got["bytes"]) == (2, 1, 1, 1, size)
    assert got["growth"] < size / 2, f"peak RSS grew by {got['growth'] / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB line"
    assert got["growth"] < 1.5 * DEFAULT_MAX_LINE_BYTES
