"""`vectra data prune` deletes by parsed date, accepts only YYYY-MM-DD, refuses the future without
--force, and keeps debug notes and quarantine unless asked (and says so)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from vectra_capture.store import write_debug_note, write_records
from vectra_capture.store.envelope import QUARANTINE, RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main

DATES = ["2025-10-29", "2025-10-30", "2025-10-31", "2025-11-15", "2025-12-07"]


def _ts_us(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC).timestamp() * 1_000_000)


@pytest.fixture
def root(tmp_path: Path) -> DataPaths:
    """ws_event + system_event + quarantine + a debug note on each date (real files, via the store)."""
    paths = DataPaths(tmp_path / "data")
    records = []
    for i, day in enumerate(DATES):
        ts = _ts_us(day)
        records += [
            RawRecord("ws_event", ts, 3 * i + 1, "public_ws", "s", b'["e",{}]', event_name="e"),
            RawRecord("system_event", ts, 3 * i + 2, "public_ws", "s", b"{}", event_name="connect"),
            RawRecord(QUARANTINE, ts, 3 * i + 3, "public_ws", "s", b"\xff", origin_file="socket:received", reason="x"),
        ]
        write_debug_note(paths, f"note of {day}", now=datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC))
    write_records(paths, records, "s")
    return paths


def _prune(paths: DataPaths, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["data", "prune", *args, "--data-dir", str(paths.root)])
    return result.exit_code, result.output


def _dates(paths: DataPaths, doc_type: str) -> list[str]:
    return sorted(p.name[5:] for p in paths.doc_type_dir(doc_type).glob("date=*"))


def _quarantine_dates(paths: DataPaths) -> list[str]:
    return sorted(p.name[5:] for p in (paths.quarantine / "public_ws").glob("date=*"))


@pytest.mark.parametrize("before", ["20251030", "2025-W44-1", "2025-10-3", "2025/10/30", "2025-13-01", "nope"])
def test_only_yyyy_mm_dd_is_accepted(root: DataPaths, before: str) -> None:
    code, output = _prune(root, "--before", before, "--yes")
    assert code == 2 and "YYYY-MM-DD" in output
    assert _dates(root, "ws_event") == DATES  # nothing deleted (20251030 used to delete every 2025 partition)


def test_prune_compares_dates_and_keeps_notes_and_quarantine(root: DataPaths) -> None:
    code, output = _prune(root, "--before", "2025-10-31", "--json")
    dry = json.loads(output)
    assert code == 0 and dry["deleted"] is False and dry["files_removed"] == 0
    assert dry["partitions"] == ["system_event/2025-10-29", "system_event/2025-10-30",
                                 "ws_event/2025-10-29", "ws_event/2025-10-30"]
    assert dry["kept"] == {"debug_note": ["2025-10-29", "2025-10-30"],
                           "quarantine": ["public_ws/2025-10-29", "public_ws/2025-10-30"]}
    code, output = _prune(root, "--before", "2025-10-31", "--yes")
    assert code == 0
    assert "deleted: 4 partitions before 2025-10-31" in output
    assert "kept: 2 debug_note partitions" in output and "--include-notes" in output
    assert "kept: 2 quarantine partitions" in output and "--include-quarantine" in output
    assert _dates(root, "ws_event") == _dates(root, "system_event") == DATES[2:]
    assert _dates(root, "debug_note") == DATES and _quarantine_dates(root) == DATES


def test_notes_and_quarantine_go_only_when_asked(root: DataPaths) -> None:
    code, output = _prune(root, "--before", "2025-11-15", "--yes", "--include-notes", "--include-quarantine", "--json")
    done = json.loads(output)
    assert code == 0 and done["quarantine_partitions"] == [f"public_ws/{d}" for d in DATES[:3]]
    assert done["files_removed"] == 4 * 3  # ws_event, system_event, debug_note, quarantine on three dates
    for doc_type in ("ws_event", "system_event", "debug_note"):
        assert _dates(root, doc_type) == DATES[3:]
    assert _quarantine_dates(root) == DATES[3:]


def test_a_future_date_needs_force(root: DataPaths) -> None:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    code, output = _prune(root, "--before", tomorrow, "--yes")
    assert code == 2 and "in the future" in output and "--force" in output
    assert _dates(root, "ws_event") == DATES
    code, _ = _prune(root, "--before", tomorrow, "--yes", "--force")
    assert code == 0 and _dates(root, "ws_event") == [] and _dates(root, "debug_note") == DATES
