"""The legacy import under bad conditions: lone surrogates in payloads, one file failing mid-run,
two folders holding the same file name. Real files, real Parquet, DuckDB to read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from legacy_helpers import FIXTURES, copy_fixtures, plain_counts, query

from vectra_capture.legacy.importer import MANIFEST, import_file, import_legacy
from vectra_capture.store import write_manifest
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main

# first (in sort order) on 2025-10-30 UTC only; the other two on 2025-11-02, with no broken lines
FILES = ["game_20251030_121110_da674ded.jsonl", "game_20251102_184324.jsonl", "game_20251102_184337.jsonl"]


def _ws(paths: DataPaths) -> str:
    return f"read_parquet('{paths.glob('ws_event')}')"


def test_lone_surrogate_in_a_capture_payload_is_stored_not_fatal(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    lines = [
        '{"seq":1,"ts":"2025-12-07T10:00:00","event":"newChatMessage","data":{"username":"ab\\ud83d","message":"x"}}',
        '{"seq":2,"ts":"2025-12-07T10:00:01","event":"newChatMessage","data":{"username":"cd","message":"y"}}',
    ]
    (legacy / "capture_x.jsonl").write_text("\n".join(lines) + "\n")
    paths = DataPaths.resolve(tmp_path / "data")
    s = import_legacy(None, paths, legacy_root=legacy)
    assert (s["imported_files"], s["failed"], s["records"]) == (1, 0, 2)
    got = query(f"SELECT seq, username, raw_json FROM {_ws(paths)} ORDER BY seq")
    assert [(seq, user) for seq, user, _ in got] == [(0, "ab\ufffd"), (1, "cd")]
    for (_, _, raw), line in zip(got, lines, strict=True):
        obj = json.loads(line)
        # raw_json keeps the escape: it decodes to exactly the payload in the file
        assert json.loads(raw) == [obj["event"], obj["data"]]


def _block_date(paths: DataPaths, date: str) -> Path:
    """A plain file where a date partition folder must go: writing that date fails (as a full or
    read-only disk would), other dates still work."""
    blocker = paths.events_parquet / "doc_type=ws_event" / f"date={date}"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    return blocker


def test_a_failing_file_does_not_stop_the_others_and_is_retried(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES)
    paths = DataPaths.resolve(tmp_path / "data")
    blocker = _block_date(paths, "2025-10-30")
    s = import_legacy(None, paths, legacy_root=legacy)
    status = {r["file"]: r["status"] for r in s["per_file"]}
    assert status == {FILES[0]: "failed", FILES[1]: "imported", FILES[2]: "imported"}
    assert s["failed"] == 1 and s["imported_files"] == 2
    failed = next(r for r in s["per_file"] if r["status"] == "failed")
    assert failed["detail"]  # the error is reported
    rows = dict(query(f"SELECT origin_file, count(*) FROM {_ws(paths)} GROUP BY 1"))
    assert rows == {f: plain_counts(legacy / f).clean for f in FILES[1:]}  # these fixtures salvage nothing

    blocker.unlink()  # the disk is fixed: the failed file is imported, the others are skipped
    s = import_legacy(None, paths, legacy_root=legacy)
    assert (s["failed"], s["imported_files"], s["skipped"]) == (0, 1, 2)
    rows = dict(query(f"SELECT origin_file, count(*) FROM {_ws(paths)} GROUP BY 1"))
    assert set(rows) == set(FILES) and rows[FILES[0]] == s["records"]


def test_cli_reports_failed_files_and_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", FILES[:2])
    monkeypatch.setenv("RUGS_LEGACY_DIR", str(legacy))
    data = tmp_path / "data"
    _block_date(DataPaths.resolve(data), "2025-10-30")
    res = CliRunner().invoke(main, ["legacy", "import", "--data-dir", str(data), "--json"])
    assert res.exit_code != 0
    out = json.loads(res.stdout)  # the summary is still printed in full
    assert out["failed"] == 1 and out["imported_files"] == 1 and out["files"] == 2
    res = CliRunner().invoke(main, ["legacy", "import", "--data-dir", str(data)])
    assert res.exit_code != 0 and "1 failed" in res.output and f"FAILED {FILES[0]}" in res.output


def test_same_file_name_in_two_folders_keeps_both(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    # same name, different content
    (a / "game_x.jsonl").write_bytes((FIXTURES / FILES[1]).read_bytes())
    (b / "game_x.jsonl").write_bytes((FIXTURES / FILES[2]).read_bytes())
    paths = DataPaths.resolve(tmp_path / "data")
    root = tmp_path / "legacy_root"  # both folders lie outside the legacy root
    root.mkdir()
    import_legacy([a / "game_x.jsonl"], paths, legacy_root=root)
    import_legacy([b], paths, legacy_root=root)
    rows = dict(query(f"SELECT origin_file, count(*) FROM {_ws(paths)} GROUP BY 1"))
    keys = {(a / "game_x.jsonl").resolve().as_posix(), (b / "game_x.jsonl").resolve().as_posix()}
    assert set(rows) == keys
    assert sorted(rows.values()) == sorted(plain_counts(FIXTURES / f).clean for f in FILES[1:])
    assert query(f"SELECT count(DISTINCT session_id) FROM {_ws(paths)}") == [(2,)]
    again = import_legacy([a, b], paths, legacy_root=root)
    assert (again["skipped"], again["imported_files"]) == (2, 0)


def test_rows_under_a_pre_v2_bare_name_key_are_replaced_not_duplicated(tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.mkdir()
    src = a / "game_x.jsonl"
    src.write_bytes((FIXTURES / FILES[1]).read_bytes())
    paths = DataPaths.resolve(tmp_path / "data")
    # what the old code did for a folder outside the legacy root: key relative to that folder
    res, entry = import_file(paths, src, a)
    assert res.file == "game_x.jsonl"
    write_manifest(paths, MANIFEST, {"version": 1, "files": {res.file: {**entry, "reader_version": 1}}})
    root = tmp_path / "legacy_root"
    root.mkdir()
    import_legacy([a], paths, legacy_root=root)
    rows = dict(query(f"SELECT origin_file, count(*) FROM {_ws(paths)} GROUP BY 1"))
    assert rows == {src.resolve().as_posix(): plain_counts(src).clean}
