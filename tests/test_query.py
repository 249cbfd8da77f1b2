"""Query helpers and `vectra data|schema` commands over derived fixture data (expectations from plain json)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from pipeline_helpers import (
    AUTH,
    SAMPLES,
    expected_states,
    expected_ticks,
    parsed_events,
    raw_dates,
    raw_paths,
)
from test_pipeline_assets import derive_fixture, materialize_all

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli import main
from vectra_pipeline.query import Query

N_EVENTS = len(SAMPLES.read_text().splitlines()) + len(AUTH)


@pytest.fixture(scope="module")
def derived(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    return derive_fixture(request, tmp_path_factory.mktemp("query"))


@pytest.fixture(scope="module")
def events() -> list:
    return parsed_events(captured_only=False)


def test_helpers(derived: DataPaths, events: list) -> None:
    q = Query(derived)
    trades_per_game = Counter(p["gameId"] for n, p in events if n == "standard/newTrade")
    game, n_trades = trades_per_game.most_common(1)[0]
    assert len(q.trades(game_id=game)) == n_trades
    player = next(p["playerId"] for n, p in events if n == "standard/newTrade")
    assert len(q.trades(player_id=player)) == sum(1 for n, p in events if n == "standard/newTrade" and p["playerId"] == player)
    assert len(q.ticks(game)) == sum(1 for k in expected_ticks(events) if k[0] == game)
    me = next(p["id"] for n, p in events if n == "playerUpdate")
    states = q.player_state(me)
    assert len(states) == sum(1 for s in expected_states(events) if s[1] == me)
    assert [s["ts"] for s in states] == sorted(s["ts"] for s in states)
    dates = raw_dates(derived)
    everything = q.games(dates[0], dates[-1])
    first_only = q.games(dates[0], dates[0])
    assert 0 < len(first_only) < len(everything)
    assert len({g["game_id"] for g in everything}) == len(everything)
    q.close()


def test_status_and_empty_data_root(derived: DataPaths, tmp_path: Path) -> None:
    q = Query(derived)
    rows = q.status()
    q.close()
    raw = [r for r in rows if r["doc_type"] == "ws_event"]
    assert sum(r["rows"] for r in raw) == N_EVENTS
    assert {r["date"] for r in raw} == set(raw_dates(derived))
    assert all(r["bytes"] > 0 and (r["rows"] == 0 or r["first_ts"] <= r["last_ts"]) for r in rows)
    assert {r["doc_type"] for r in rows} >= {"ws_event", "game_tick", "player_action", "server_state",
                                              "complete_game", "games"}
    empty = Query(DataPaths(tmp_path / "nothing"))
    assert empty.games("2025-01-01", "2030-01-01") == [] and empty.ticks("x") == [] and empty.trades() == []
    assert empty.player_state("x") == [] and empty.status() == []
    empty.close()


def test_data_and_schema_commands(derived: DataPaths, tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["data", "status", "--data-dir", str(derived.root), "--json"])
    assert out.exit_code == 0, out.output
    assert sum(r["rows"] for r in json.loads(out.output) if r["doc_type"] == "ws_event") == N_EVENTS
    assert runner.invoke(main, ["schema", "check", "--data-dir", str(derived.root)]).exit_code == 0
    drift = json.loads(runner.invoke(main, ["schema", "check", "--drift", "--data-dir", str(derived.root), "--json"]
                                     ).output)["drift"]
    assert drift["passed"] and drift["unknown_field_count"] == 0
    shown = json.loads(runner.invoke(main, ["schema", "show", "--data-dir", str(derived.root), "--json"]).output)
    assert "seed_verified" in shown["manifest"]["doc_types"]["complete_game"]

    fresh = tmp_path / "fresh"
    assert runner.invoke(main, ["schema", "check", "--data-dir", str(fresh)]).exit_code == 1
    assert runner.invoke(main, ["schema", "migrate", "--data-dir", str(fresh)]).exit_code == 0
    assert runner.invoke(main, ["schema", "check", "--data-dir", str(fresh)]).exit_code == 0


def test_prune(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    paths = raw_paths(request, tmp_path, captured=False)
    for result in materialize_all(paths):
        assert result.success
    dates = raw_dates(paths)
    runner = CliRunner()
    dry = json.loads(runner.invoke(main, ["data", "prune", "--before", dates[-1], "--data-dir", str(paths.root),
                                          "--json"]).output)
    assert dry["deleted"] is False and dry["partitions"] and all(p.endswith(dates[0]) for p in dry["partitions"])
    assert paths.partition_dir("ws_event", dates[0]).exists()
    done = json.loads(runner.invoke(main, ["data", "prune", "--before", dates[-1], "--yes", "--data-dir",
                                           str(paths.root), "--json"]).output)
    assert done["files_removed"] == len(dry["partitions"])  # one file per partition here
    assert not paths.partition_dir("ws_event", dates[0]).exists()
    assert paths.partition_dir("ws_event", dates[-1]).exists()
    assert runner.invoke(main, ["data", "prune", "--before", "nope", "--data-dir", str(paths.root)]).exit_code == 2
