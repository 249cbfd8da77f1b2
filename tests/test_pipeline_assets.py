"""The typed assets materialized with Dagster from the real fixture samples captured through
feed -> daemon -> raw (plus the authenticated examples), checked against counts made here with
plain json over the fixture files."""

from __future__ import annotations

import hashlib
from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from pipeline_helpers import (
    expected_history,
    expected_states,
    expected_ticks,
    expected_trades,
    parsed_events,
    pipeline_resources,
    raw_dates,
    raw_paths,
)

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.landing.assets import system_event, ws_event
from vectra_pipeline.defs.typed import assets as typed
from vectra_pipeline.defs.typed import checks
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS

TYPED = [typed.typed_from_raw, typed.games]
LEGACY_SPEC = dg.AssetSpec("legacy_recordings")
ALL_CHECKS = checks.TYPED_CHECKS


def materialize_all(paths: DataPaths, raise_on_error: bool = True) -> list[dg.ExecuteInProcessResult]:
    results = []
    for date in raw_dates(paths):
        results.append(dg.materialize(
            [*TYPED, ws_event, system_event, LEGACY_SPEC, *ALL_CHECKS],
            selection=dg.AssetSelection.assets(*TYPED) | dg.AssetSelection.checks(*ALL_CHECKS),
            partition_key=date,
            resources=pipeline_resources(paths),
            raise_on_error=raise_on_error,
        ))
    return results


def table(paths: DataPaths, name: str) -> list[dict]:
    files = sorted(paths.doc_type_dir(name).glob("date=*/*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def derive_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> DataPaths:
    """The fixture's raw data with every typed asset materialized for each raw date."""
    paths = raw_paths(request, tmp_path)
    for result in materialize_all(paths):
        assert result.success
    return paths


@pytest.fixture
def derived(request: pytest.FixtureRequest, tmp_path: Path) -> DataPaths:
    return derive_fixture(request, tmp_path)


@pytest.fixture(scope="module")
def events() -> list:
    return parsed_events(captured_only=False)


def test_every_typed_asset_matches_the_fixture(derived: DataPaths, events: list) -> None:
    ticks = table(derived, "game_tick")
    assert {(r["game_id"], r["tick"], r["cooldown_timer"], r["rugged"]) for r in ticks} == expected_ticks(events)
    assert len(ticks) == len(expected_ticks(events))

    trades = [r for r in table(derived, "player_action") if r["action_kind"] == "trade"]
    assert sorted(r["action_id"] for r in trades) == sorted(expected_trades(events))

    history = expected_history(events)
    games_done = table(derived, "complete_game")
    assert sorted(r["game_id"] for r in games_done) == sorted(history)
    for row in games_done:
        entry = history[row["game_id"]]
        seed, seed_hash = entry["provablyFair"]["serverSeed"], entry["provablyFair"]["serverSeedHash"]
        assert row["seed_verified"] is (hashlib.sha256(seed.encode()).hexdigest() == seed_hash)
        assert row["prices"] == entry["prices"]  # exact decimals, the whole series

    states = table(derived, "server_state")
    assert len(states) == len(expected_states(events))
    assert Counter(r["state_source"] for r in states)["playerUpdate"] == len(
        {tuple(sorted((k, str(v)) for k, v in p.items() if k in ("cash", "positionQty", "avgCost", "totalInvested",
                                                                  "sidebetPnl", "cumulativePnL", "pnlPercent")))
         for n, p in events if n == "playerUpdate"})

    game_ids = {g for g, *_ in expected_ticks(events)} | set(history)
    games = table(derived, "games")
    assert sorted(r["game_id"] for r in games) == sorted(game_ids)
    trade_counts = Counter(p["gameId"] for n, p in events if n == "standard/newTrade")
    for g in games:
        assert g["trade_count"] == trade_counts.get(g["game_id"], 0)
        assert g["ticks"] == len({t for gid, t, *_ in expected_ticks(events) if gid == g["game_id"] and t is not None})


def test_materialization_metadata(request: pytest.FixtureRequest, tmp_path: Path, events: list) -> None:
    paths = raw_paths(request, tmp_path)
    results = materialize_all(paths)
    out: Counter[str] = Counter()
    for result in results:
        for mat in result.get_asset_materialization_events():
            md = mat.materialization.metadata
            key = mat.asset_key.to_user_string()
            out[key] += md["dagster/row_count"].value
            assert {"rows_in", "duplicates_dropped", "model_failures", "preview"} <= set(md)
            assert md["rows_in"].value == (md["dagster/row_count"].value + md["duplicates_dropped"].value
                                           + md["model_failures"].value)
            # Dagster's standard keys: the partition's rows, the columns written, a Markdown preview
            assert md["dagster/partition_row_count"].value == md["dagster/row_count"].value
            assert [c.name for c in md["dagster/column_schema"].value.columns] == TYPED_SCHEMAS[key].names
            assert isinstance(md["preview"], dg.MarkdownMetadataValue)
            rows_written = sum(pq.read_metadata(f).num_rows
                               for f in paths.doc_type_dir(key).glob(f"date={mat.materialization.partition}/*.parquet"))
            assert md["dagster/row_count"].value == rows_written
            if rows_written:
                assert md["preview"].value.count("\n| ") == 1 + min(rows_written, 5)  # header and up to 5 rows
    assert out["game_tick"] == len(expected_ticks(events))
    assert out["player_action"] == len(expected_trades(events))
    evaluations = [e for r in results for e in r.get_asset_check_evaluations()]
    assert evaluations and all(e.passed for e in evaluations)
    # the column schema is also on the definitions, so the UI shows it before any run
    for spec in [*typed.typed_from_raw.specs, *typed.games.specs]:
        schema = spec.metadata["dagster/column_schema"]
        assert [c.name for c in schema.columns] == TYPED_SCHEMAS[spec.key.to_user_string()].names
        assert spec.description.startswith("One row per")


def test_keys_are_unique(derived: DataPaths) -> None:
    from vectra_pipeline.derive.schemas import KEYS

    con = duckdb.connect()
    for name, key in KEYS.items():
        glob = derived.glob(name)
        cols = ", ".join(key)
        (dups,) = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM read_parquet('{glob}') "
                              f"GROUP BY ALL HAVING count(*) > 1)").fetchall()[0]
        assert dups == 0, name


def test_decimals_are_exact(derived: DataPaths, events: list) -> None:
    trades = {r["action_id"]: r for r in table(derived, "player_action")}
    for name, p in events:
        if name == "standard/newTrade":
            assert trades[p["id"]]["price"] == p["price"]
            assert trades[p["id"]]["amount"] == p["amount"]
    prices = {(r["game_id"], r["tick"]): r["price"] for r in table(derived, "game_tick") if r["tick"] is not None}
    checked = 0
    for name, p in events:
        # a cooldown broadcast's price is no price of play (stored NULL: see test_pipeline_review)
        if name == "gameStateUpdate" and "price" in p and (p.get("active") or p.get("rugged")):
            assert prices[(p["gameId"], p["tickCount"])] == p["price"]
            checked += 1
    assert checked > 100
    # the fixture's 19-decimal rug price survives (DECIMAL(38,18) would round it)
    series = [x for r in table(derived, "complete_game") for x in r["prices"]]
    assert Decimal("0.0074962956398157985") in series


def test_rerun_is_idempotent(derived: DataPaths) -> None:
    def snapshot() -> dict:
        files = sorted(str(p.relative_to(derived.root)) for p in derived.events_parquet.rglob("*.parquet"))
        rows = {t: sorted(map(repr, table(derived, t))) for t in ("game_tick", "player_action", "server_state",
                                                                 "complete_game", "games")}
        return {"files": files, "rows": rows}

    before = snapshot()
    for result in materialize_all(derived):
        assert result.success
    assert snapshot() == before


def test_duplicated_capture_is_deduplicated(request: pytest.FixtureRequest, tmp_path: Path, events: list) -> None:
    from pipeline_helpers import fixture_events, fixture_records, land

    paths = raw_paths(request, tmp_path, captured=False)
    # two more clients on the same feed (docs/protocol.md: one capture held every event 3 times)
    land(paths, fixture_records("client-2", fixture_events()), "client-2")
    land(paths, fixture_records("client-3", fixture_events()), "client-3")
    results = materialize_all(paths)
    assert len(table(paths, "game_tick")) == len(expected_ticks(events))
    assert len(table(paths, "player_action")) == len(expected_trades(events))
    assert len(table(paths, "complete_game")) == len(expected_history(events))
    dropped = sum(m.materialization.metadata["duplicates_dropped"].value for r in results
                  for m in r.get_asset_materialization_events() if m.asset_key.to_user_string() == "game_tick")
    assert dropped == 2 * sum(1 for n, _ in events if n == "gameStateUpdate")
