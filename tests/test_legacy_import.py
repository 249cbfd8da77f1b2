"""The legacy import into a real data root: the ws_event and quarantine rows it writes, reruns, changed files, split games,
the CLI and the JSONL export, all over real Parquet read back with DuckDB."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from legacy_helpers import FIXTURES, copy_fixtures, line_of, plain_counts, query, tree

from vectra_capture.legacy import importer
from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store import atomic, read_manifest
from vectra_capture.store.envelope import QUARANTINE_SCHEMA, WS_EVENT_SCHEMA
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main
from vectra_pipeline.cli.data import export


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataPaths, dict]:
    paths = DataPaths.resolve(tmp_path_factory.mktemp("data"))
    summary = import_legacy([FIXTURES], paths, legacy_root=FIXTURES)
    return paths, summary


_EPOCH = datetime(1970, 1, 1)


def _expected_utc(naive: str) -> datetime:
    """Naive New York text -> naive UTC with the offset written out (no zoneinfo): EDT (+4 h) before
    2025-11-02 01:00 local, EST (+5 h) from 02:00; the ambiguous hour between is not in the fixtures."""
    local = datetime.fromisoformat(naive)
    assert not datetime(2025, 11, 2, 1) <= local < datetime(2025, 11, 2, 2), naive
    return local + timedelta(hours=4 if local < datetime(2025, 11, 2, 1) else 5)


def _ws(paths: DataPaths) -> str:
    return f"read_parquet('{paths.glob('ws_event')}')"


def _qglob(paths: DataPaths) -> str:
    return f"read_parquet('{paths.quarantine}/replay/date=*/*.parquet')"


def test_every_line_is_accounted_for_in_the_store(imported: tuple[DataPaths, dict]) -> None:
    paths, summary = imported
    files = sorted(FIXTURES.glob("*.jsonl"))
    plain = {f.name: plain_counts(f) for f in files}
    assert summary["files"] == len(files) and summary["imported_files"] == len(files)
    assert summary["lines"] == sum(p.lines for p in plain.values())
    assert summary["blank"] == sum(p.blank for p in plain.values())
    assert summary["imported"] == sum(p.clean for p in plain.values())
    assert summary["salvaged"] + summary["quarantined"] == sum(len(p.broken) for p in plain.values())
    for key in ("files", "lines", "records", "salvaged", "quarantined", "blank", "games", "dates", "seconds"):
        assert key in summary
    rows = dict(query(f"SELECT origin_file, count(*) FROM {_ws(paths)} GROUP BY 1"))
    qrows = dict(query(f"SELECT split_part(origin, ':', 1), count(*) FROM {_qglob(paths)} GROUP BY 1"))
    for r in summary["per_file"]:
        p = plain[r["file"]]
        assert r["lines"] == r["imported"] + r["salvaged"] + r["quarantined"] + r["blank"] == p.lines
        assert rows[r["file"]] == r["records"] == p.clean + r["salvaged_records"]
        assert qrows.get(r["file"], 0) == r["quarantined"] + r["fragments"]
    assert sum(rows.values()) == summary["records"]
    # the 3 human notes are in quarantine with file:line and their original bytes
    notes = query(f"SELECT origin, reason, raw FROM {_qglob(paths)} WHERE origin LIKE 'game_20251030_121110%'")
    assert sorted(o for o, _, _ in notes) == [f"game_20251030_121110_da674ded.jsonl:{n}" for n in (155, 3, 332)]
    for origin, _reason, raw in notes:
        no = int(origin.rsplit(":", 1)[1])
        assert raw == line_of(FIXTURES / "game_20251030_121110_da674ded.jsonl", no).encode()


def test_rows_follow_the_contract(imported: tuple[DataPaths, dict]) -> None:
    paths, summary = imported
    parquet = sorted(paths.events_parquet.rglob("*.parquet"))
    for f in parquet:
        assert pq.read_schema(f).remove_metadata().equals(WS_EVENT_SCHEMA)
        assert f.name.startswith("legacy-") and f.parent.name.startswith("date=")
    for f in paths.quarantine.rglob("*.parquet"):
        assert pq.read_schema(f).remove_metadata().equals(QUARANTINE_SCHEMA)
    name = "game_20251029_183608.jsonl"
    expect_file = f"legacy-{hashlib.sha1(name.encode()).hexdigest()[:16]}.parquet"
    assert [f for f in parquet if f.name == expect_file]
    sid = str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-legacy:" + name))
    got = query(f"SELECT seq, origin_line, raw_json, event_name, source, doc_type, session_id, game_id, direction, "
                f"strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') FROM {_ws(paths)} WHERE origin_file = '{name}' ORDER BY seq")
    plain = plain_counts(FIXTURES / name)
    assert [g[0] for g in got] == list(range(plain.clean))
    for _seq, line, raw, event, source, doc_type, session, game_id, direction, ts in got:
        rec = json.loads(plain.clean_texts[line])
        assert raw == plain.clean_texts[line]  # the record text exactly as in the file
        assert event == "legacy." + rec["type"] and game_id == rec["game_id"]
        assert (source, doc_type, session, direction) == ("replay", "ws_event", sid, "received")
        assert ts == _expected_utc(rec["timestamp"]).strftime("%Y-%m-%dT%H:%M:%S.%f")
    # seq strictly increasing per session, across all dates of a file
    dup = query(f"SELECT session_id, seq, count(*) c FROM {_ws(paths)} GROUP BY 1, 2 HAVING c > 1")
    assert dup == []
    # ts dates match the partition dates
    bad = query(f"SELECT count(*) FROM read_parquet('{paths.glob('ws_event')}', hive_partitioning=true) "
                f"WHERE strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d') <> CAST(date AS VARCHAR)")
    assert bad == [(0,)]
    assert summary["dates"] == ["2025-10-29", "2025-10-30", "2025-10-31", "2025-11-02"]
    # every game record of every file, on both sides of the 2025-11-02 06:00 UTC change
    sides = {4: 0, 5: 0}
    for raw, ts_us in query(f"SELECT raw_json, epoch_us(ts) FROM {_ws(paths)} WHERE event_name LIKE 'legacy.%'"):
        naive = json.loads(raw)["timestamp"]
        expect = _expected_utc(naive)
        assert ts_us == (expect - _EPOCH) // timedelta(microseconds=1), naive
        sides[round((expect - datetime.fromisoformat(naive)) / timedelta(hours=1))] += 1
    assert sides[4] > 0 and sides[5] > 0


def test_rerun_is_idempotent_and_cheap(imported: tuple[DataPaths, dict], tmp_path: Path) -> None:
    paths, first = imported
    before = {**tree(paths.events_parquet), **tree(paths.quarantine)}
    count = query(f"SELECT count(*) FROM {_ws(paths)}")
    again = import_legacy([FIXTURES], paths, legacy_root=FIXTURES)
    assert again["skipped"] == first["files"] and again["imported_files"] == 0 and again["records"] == 0
    assert {**tree(paths.events_parquet), **tree(paths.quarantine)} == before  # same files, untouched
    assert query(f"SELECT count(*) FROM {_ws(paths)}") == count
    assert {r["status"] for r in again["per_file"]} == {"skipped"}
    # a forced re-import rewrites the same file names with the same rows
    rows = sorted(query(f"SELECT origin_file, seq, raw_json FROM {_ws(paths)}"))
    forced = import_legacy([FIXTURES], paths, legacy_root=FIXTURES, force=True)
    assert forced["imported_files"] == first["files"]
    assert set({**tree(paths.events_parquet), **tree(paths.quarantine)}) == set(before)
    assert sorted(query(f"SELECT origin_file, seq, raw_json FROM {_ws(paths)}")) == rows


def test_changed_file_replaces_its_rows(tmp_path: Path) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", ["game_20251029_183608.jsonl", "game_20251031_151152.jsonl",
                                                 "game_20251102_184324.jsonl"])
    paths = DataPaths.resolve(tmp_path / "data")
    import_legacy(None, paths, legacy_root=legacy)
    target = legacy / "game_20251029_183608.jsonl"
    name = target.name
    n0 = plain_counts(target).clean
    assert query(f"SELECT count(*) FROM {_ws(paths)} WHERE origin_file = '{name}'") == [(n0,)]
    own = f"legacy-{hashlib.sha1(name.encode()).hexdigest()[:16]}.parquet"
    others = {k: v for k, v in tree(paths.events_parquet).items() if own not in k}

    # append a record on a new UTC date plus a corrupt line
    extra = {"type": "tick", "timestamp": "2025-11-05T12:00:00", "game_id": "20251105-ffffffffffffffff",
             "tick": 1, "price": 1.01, "phase": "ACTIVE_GAMEPLAY", "active": True, "rugged": False,
             "cooldown_timer": 0, "trade_count": 3}
    with open(target, "a") as fh:
        fh.write(json.dumps(extra) + "\n" + '{"type": "tick", "timest\n')
    s = import_legacy(None, paths, legacy_root=legacy)
    assert (s["imported_files"], s["skipped"]) == (1, 2) and s["dates"] == ["2025-10-29", "2025-11-05"]
    rows = query(f"SELECT count(*), count(DISTINCT origin_line) FROM {_ws(paths)} WHERE origin_file = '{name}'")
    assert rows == [(n0 + 1, n0 + 1)]
    assert query(f"SELECT count(*) FROM {_qglob(paths)} WHERE origin LIKE '{name}:%'") == [(1,)]
    assert {k: v for k, v in tree(paths.events_parquet).items() if own not in k} == others

    # shrink it to its first 10 lines: the new date's file and the quarantine row disappear
    target.write_text("\n".join(target.read_text().split("\n")[:10]) + "\n")
    s = import_legacy(None, paths, legacy_root=legacy)
    assert s["imported_files"] == 1 and s["records"] == 10
    assert query(f"SELECT count(*) FROM {_ws(paths)} WHERE origin_file = '{name}'") == [(10,)]
    assert not list(paths.events_parquet.glob("doc_type=ws_event/date=2025-11-05/*.parquet"))
    assert query(f"SELECT count(*) FROM {_qglob(paths)} WHERE origin LIKE '{name}:%'") == [(0,)]

    # touched but identical: skipped after a hash check, the manifest learns the new mtime
    os.utime(target, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    s = import_legacy(None, paths, legacy_root=legacy)
    assert s["imported_files"] == 0 and s["skipped"] == 3
    assert read_manifest(paths, "legacy_import")["files"][name]["mtime_ns"] == 1_700_000_000_000_000_000


def test_split_game_lands_under_one_game_id_and_dedups_in_duckdb(tmp_path: Path) -> None:
    """A real game split over two files with an overlap (as the recorder did on restarts)."""
    src = FIXTURES / "game_20251029_184015.jsonl"
    lines = src.read_text().splitlines()
    half = len(lines) // 2
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "game_a.jsonl").write_text("\n".join(lines[: half + 20]) + "\n")
    (legacy / "game_b.jsonl").write_text("\n".join(lines[half:]) + "\n")
    paths = DataPaths.resolve(tmp_path / "data")
    import_legacy(None, paths, legacy_root=legacy)
    ticks = [json.loads(x) for x in lines if '"type": "tick"' in x]
    game = {t["game_id"] for t in ticks}
    assert len(game) == 1
    distinct = {(t["game_id"], t["tick"], t["cooldown_timer"], t["rugged"]) for t in ticks}
    raw_ticks = sum(1 for x in lines[: half + 20] + lines[half:] if '"type": "tick"' in x)
    got = query(f"""
        WITH t AS (
          SELECT game_id, origin_file,
                 CAST(json_extract(raw_json, '$.tick') AS BIGINT) tick,
                 CAST(json_extract(raw_json, '$.cooldown_timer') AS BIGINT) cooldown_timer,
                 CAST(json_extract(raw_json, '$.rugged') AS BOOLEAN) rugged
          FROM {_ws(paths)} WHERE event_name = 'legacy.tick')
        SELECT count(*), count(DISTINCT origin_file), count(DISTINCT game_id),
               (SELECT count(*) FROM (SELECT DISTINCT game_id, tick, cooldown_timer, rugged FROM t))
        FROM t""")
    assert got == [(raw_ticks, 2, 1, len(distinct))]
    assert raw_ticks > len(distinct)  # the overlap really is there, and counted once


def test_cli_json_and_human(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = copy_fixtures(tmp_path / "legacy", ["game_20251030_121110_da674ded.jsonl", "game_20251031_150533.jsonl"])
    monkeypatch.setenv("RUGS_LEGACY_DIR", str(legacy))
    data = tmp_path / "data"
    res = CliRunner().invoke(main, ["legacy", "import", "--data-dir", str(data), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    plain = [plain_counts(f) for f in sorted(legacy.glob("*.jsonl"))]
    assert out["files"] == 2 and out["lines"] == sum(p.lines for p in plain)
    assert out["blank"] == sum(p.blank for p in plain) and out["quarantined"] >= 3
    assert out["lines"] == out["imported"] + out["salvaged"] + out["quarantined"] + out["blank"]
    res = CliRunner().invoke(main, ["legacy", "import", str(legacy / "game_20251031_150533.jsonl"),
                                    "--data-dir", str(data)])
    assert res.exit_code == 0 and "1 skipped unchanged" in res.output


def test_export_jsonl_round_trips(imported: tuple[DataPaths, dict], tmp_path: Path) -> None:
    paths, _ = imported
    out = tmp_path / "export"
    res = CliRunner().invoke(export, ["--format", "jsonl", "--output", str(out), "--data-dir", str(paths.root),
                                      "--json"])
    assert res.exit_code == 0, res.output
    per_date = dict(query(f"SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d'), count(*) FROM {_ws(paths)} "
                          "GROUP BY 1"))
    files = sorted((out / "ws_event").glob("*.jsonl"))
    assert {f.stem: len(f.read_text().splitlines()) for f in files} == per_date
    first = json.loads((out / "ws_event" / "2025-10-29.jsonl").read_text().splitlines()[0])
    raw = query(f"SELECT raw_json FROM {_ws(paths)} WHERE session_id = '{first['session_id']}' "
                f"AND seq = {first['seq']}")
    assert raw == [(first["raw_json"],)] and first["ts"].endswith("+00:00")


def test_worker_processes_write_the_same_rows(imported: tuple[DataPaths, dict], tmp_path: Path) -> None:
    paths, first = imported
    other = DataPaths.resolve(tmp_path / "data")
    s = import_legacy([FIXTURES], other, legacy_root=FIXTURES, workers=2)
    assert s["records"] == first["records"] and s["imported_files"] == first["files"]
    cols = "origin_file, seq, ts, raw_json, game_id, event_name, origin_line"
    assert query(f"SELECT {cols} FROM {_ws(other)} ORDER BY 1, 2") == query(f"SELECT {cols} FROM {_ws(paths)} ORDER BY 1, 2")
    assert set(tree(other.events_parquet)) == set(tree(paths.events_parquet))
    assert [r["file"] for r in s["per_file"]] == [r["file"] for r in first["per_file"]]


def test_folders_are_durable_before_the_manifest_says_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The import fsyncs each folder it wrote into once, not per file, and always before the manifest
    that records those files as imported is written (a power cut cannot leave a manifest entry whose
    rows' rename was lost)."""
    events: list[str] = []
    real_sync, real_manifest = atomic._fsync_dir_now, importer.write_manifest
    monkeypatch.setattr(atomic, "_fsync_dir_now", lambda p: (events.append(os.fspath(p)), real_sync(p)))
    monkeypatch.setattr(importer, "write_manifest", lambda *a: (events.append("manifest"), real_manifest(*a)))
    paths = DataPaths.resolve(tmp_path / "data")
    import_legacy([FIXTURES], paths, legacy_root=FIXTURES, workers=1)
    written = {str(p.parent) for p in (tmp_path / "data").rglob("legacy-*.parquet")}
    assert len(written) >= 2 and "manifest" in events
    before = events[: events.index("manifest")]
    assert written <= set(before)
    assert len(before) == len(set(before))  # once per folder, not once per file (58 files)
