"""Review findings, each on a few synthetic raw rows in the contract's raw_json shape (written through
vectra_capture.store.write_records) and derived with derive_date: half emojis, overlapping raw files,
live cooldown broadcasts, keys across midnight, decimal exactness, returning server states."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from vectra_capture.store import write_records
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.checks import key_unique
from vectra_pipeline.derive.run import derive_date
from vectra_pipeline.duck import connect

MIDNIGHT = 1765065600_000000  # 2025-12-07 00:00 UTC, in microseconds
DAY = "2025-12-07"
TS = MIDNIGHT + 3_600_000_000  # 01:00


def rows(paths: DataPaths, table: str) -> list[dict]:
    files = sorted(paths.doc_type_dir(table).glob("date=*/*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def record(seq: int, raw: str, ts: int = TS, session: str = "s1") -> RawRecord:
    name = raw[2:raw.index('"', 2)]  # not json.loads: some rows here are deliberately not JSON
    return RawRecord("ws_event", ts, seq, "public_ws", session, raw.encode(), event_name=name)


def results(paths: DataPaths, date: str = DAY) -> dict:
    return {r.table: r for r in derive_date(paths, date)}


def test_half_emoji_keeps_the_row_and_only_its_table_counts_a_bad_row(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    raws = [  # escapes written by hand: json.dumps would not produce a lone surrogate
        r'["standard/newTrade", {"__trace": true}, {"id": "t1", "gameId": "g", "playerId": "did:privy:x", '
        r'"username": "ab\ud83d", "price": 1.5, "type": "buy", "amount": 0.1}]',
        r'["standard/newTrade", {"id": "t2", "gameId": "g", "playerId": "did:privy:x", '
        r'"username": "ok\ud83d\ude00", "price": 1.5, "type": "buy", "amount": 0.1}]',
        r'["gameStateUpdate", {"gameId": "g", "tickCount": 3, "price": 1.1, "active": true, "cooldownTimer": 0,'
        r' "leaderboard": [{"id": "did:privy:x", "username": "\ud83dzz", "pnl": 0.1, "positionQty": 1}]}]',
        r'["playerUpdate", {"id": "did:privy:x", "cash": 1.25, "username": "\udc00"}]',
        '["gameStateUpdate", {"gameId": "broken", ',  # not JSON at all: game_tick's failure only
    ]
    write_records(paths, [record(i, r) for i, r in enumerate(raws)], "s1")
    res = results(paths)
    names = {r["action_id"]: r for r in rows(paths, "player_action")}
    assert set(names) == {"t1", "t2"}
    assert json.loads(names["t1"]["raw_json"])[-1]["username"] == "ab\ufffd"
    assert json.loads(names["t2"]["raw_json"])[-1]["username"] == "ok\U0001F600"  # a full pair stays intact
    assert [r["tick"] for r in rows(paths, "game_tick")] == [3]
    states = {r["state_source"] for r in rows(paths, "server_state")}
    assert states == {"leaderboard", "playerUpdate"}
    assert {t: res[t].model_failures for t in ("game_tick", "player_action", "server_state", "complete_game")} == {
        "game_tick": 1, "player_action": 0, "server_state": 0, "complete_game": 0}


def gsu(game: str, tick: int | None, price: object = 1.0, cooldown: int = 0, active: bool = True,
        **extra: object) -> str:
    body: dict = {"gameId": game, "price": price, "active": active, "cooldownTimer": cooldown, **extra}
    if tick is not None:
        body["tickCount"] = tick
    return json.dumps(["gameStateUpdate", body])


ENTRY = {"id": "did:privy:p1", "username": "u", "pnl": 0.1, "positionQty": 2.5, "avgCost": 1.1,
         "totalInvested": 2.75, "hasActiveTrades": True, "sidebetPnl": 0, "position": 1, "level": 3}
HISTORY = [{"id": "20251206-old", "timestamp": 1, "peakMultiplier": 2.5, "rugged": True, "prices": [1, 2.5],
            "provablyFair": {"serverSeed": "s", "serverSeedHash": "h"}}]


def test_overlapping_raw_files_do_not_duplicate_rows(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    raws = [gsu("g", i, leaderboard=[ENTRY], gameHistory=HISTORY) for i in range(3)]
    raws.append(json.dumps(["standard/newTrade", {"id": "t1", "gameId": "g", "playerId": "did:privy:p1",
                                                  "price": 1.5, "type": "buy", "amount": 0.1}]))
    recs = [record(i, r, TS + i * 250_000) for i, r in enumerate(raws)]
    write_records(paths, recs, "s1")
    write_records(paths, recs[1:], "s1b")  # the same session's rows landed again under another name
    res = results(paths)
    assert sorted(r["tick"] for r in rows(paths, "game_tick")) == [0, 1, 2]
    assert len(rows(paths, "complete_game")) == 1 and len(rows(paths, "player_action")) == 1
    assert len(rows(paths, "server_state")) == 1
    assert res["game_tick"].extra["raw_duplicates"] == 3
    with connect() as con:
        for table in ("game_tick", "server_state", "complete_game", "player_action"):
            assert key_unique(con, paths, table).passed


def test_live_cooldown_broadcast_is_not_tick_zero_of_play(tmp_path: Path) -> None:
    from pipeline_helpers import fixture_records, land, parsed_events, raw_dates

    game = "20251207-88792b42a6b44197"  # only cooldown broadcasts in the fixture, one of them the genesis
    payloads = [p for n, p in parsed_events(captured_only=True) if n == "gameStateUpdate" and p.get("gameId") == game]
    assert any(p.get("tickCount") == 0 and p.get("cooldownTimer") for p in payloads)
    playing = {p["tickCount"] for p in payloads if p.get("active") or p.get("rugged")}
    paths = DataPaths(tmp_path)
    land(paths, fixture_records("samples"), "samples")
    for date in raw_dates(paths):
        derive_date(paths, date)
    ticks = [r for r in rows(paths, "game_tick") if r["game_id"] == game]
    assert len(ticks) == len({p["cooldownTimer"] for p in payloads})
    assert all(r["tick"] is None and r["price"] is None and r["phase"] == "settlement" for r in ticks)
    (summary,) = [g for g in rows(paths, "games") if g["game_id"] == game]
    assert summary["ticks"] == len(playing) == 0 and summary["peak"] is None and summary["max_tick"] is None


def test_keys_crossing_midnight_appear_once(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path)
    game, ms = "20251206-aaaa", 1_000
    trade = json.dumps(["standard/newTrade", {"id": "t-mid", "gameId": game, "playerId": "did:privy:p1",
                                              "price": 1.5, "type": "buy", "amount": 0.1}])
    pu = json.dumps(["playerUpdate", {"id": "did:privy:p1", "cash": 1.25, "positionQty": 0}])
    # one feed copy just before midnight, another a few ms after (a second session): same keys
    sides = [(MIDNIGHT - 500_000, 100), (MIDNIGHT - 3 * ms, 101), (MIDNIGHT + 250_000, 102)]
    recs = [record(i, gsu(game, tick, 1.5, leaderboard=[ENTRY]), ts) for i, (ts, tick) in enumerate(sides)]
    recs += [record(10, trade, MIDNIGHT - 2 * ms), record(11, pu, MIDNIGHT - ms)]
    late = [record(i, gsu(game, 101, 1.5, leaderboard=[ENTRY]), MIDNIGHT + 2 * ms, "s2") for i in range(1)]
    late += [record(1, trade, MIDNIGHT + 3 * ms, "s2"), record(2, pu, MIDNIGHT + 4 * ms, "s2")]
    write_records(paths, recs, "s1")
    write_records(paths, late, "s2")
    for date in ("2025-12-07", "2025-12-06"):  # either order: the tail is read from raw
        derive_date(paths, date)
    with connect() as con:
        for table in ("game_tick", "server_state", "player_action"):
            assert key_unique(con, paths, table).passed, table
    assert sorted(r["tick"] for r in rows(paths, "game_tick")) == [100, 101, 102]
    assert [r["action_id"] for r in rows(paths, "player_action")] == ["t-mid"]
    assert rows(paths, "player_action")[0]["session_id"] == "s1"  # the earliest sighting wins
    assert sorted(r["state_source"] for r in rows(paths, "server_state")) == ["leaderboard", "playerUpdate"]


def test_decimals_beyond_a_double_are_exact_or_failures(tmp_path: Path) -> None:
    from decimal import Decimal

    paths = DataPaths(tmp_path)
    raws = [  # written by hand: json.dumps of a float would round them first
        '["standard/newTrade", {"id": "t-long", "gameId": "g", "playerId": "did:privy:p1", '
        '"price": 99.99999999999999999, "amount": 0.12345678901234567890123, "type": "buy"}]',
        '["standard/newTrade", {"id": "t-huge", "gameId": "g", "playerId": "did:privy:p1", '
        '"price": 1.5, "amount": 1e15, "type": "buy"}]',
        '["standard/newTrade", {"id": "t-plain", "gameId": "g", "playerId": "did:privy:p1", '
        '"price": 1.0087724988192917, "amount": 0.1, "type": "sell"}]',
    ]
    write_records(paths, [record(i, r) for i, r in enumerate(raws)], "s1")
    res = results(paths)["player_action"]
    got = {r["action_id"]: r for r in rows(paths, "player_action")}
    assert got["t-long"]["price"] == Decimal("99.99999999999999999")
    assert got["t-long"]["amount"] == Decimal("0.12345678901234567890123")
    assert got["t-plain"]["price"] == Decimal("1.0087724988192917")
    assert "t-huge" not in got  # 1e15 does not fit DECIMAL(38,24): a counted failure, not a silent NULL
    assert res.model_failures == 1 and "1E+15" in res.extra["decimal_failure_reasons"]
    assert res.rows_out == 2
