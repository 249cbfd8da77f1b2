"""The service layer (catalog, samples, games, search, live, overview, notes) over a data root built from
the real fixtures: real Parquet, DuckDB and the real model; expectations from plain json."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import AUTH, expected_ticks, expected_trades, fixture_records, land, parsed_events
from service_helpers import derived_root

from vectra_capture.protocol.catalog import CATALOG, read_verifications
from vectra_capture.protocol.models import MODELS
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.build import build_table
from vectra_pipeline.index.tables import open_table
from vectra_pipeline.service import catalog, games, live, overview, search
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest, NotFound, Unavailable
from vectra_pipeline.service.notes import add_note


@pytest.fixture(scope="module")
def root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    return derived_root(request, tmp_path_factory.mktemp("service"), index=True)


@pytest.fixture
def ctx(root: DataPaths) -> Context:
    c = Context(root)
    yield c
    c.close()


@pytest.fixture(scope="module")
def events() -> list:
    return parsed_events(captured_only=False)


def test_catalog_lists_every_event_with_counts(ctx: Context, events: list) -> None:
    counts = Counter(n for n, _ in events)
    rows = {e.name: e for e in catalog.catalog(ctx)}
    assert set(rows) >= set(CATALOG) | set(MODELS) | set(counts)
    for name, n in counts.items():
        assert rows[name].count == n, name
        assert rows[name].first_seen is not None and rows[name].first_seen <= rows[name].last_seen
    assert rows["playerUpdate"].access == "logged-in" and rows["gameStateUpdate"].access == "public"
    assert rows["goldenHourUpdate"].count == 0 and rows["goldenHourUpdate"].verification.status == "unverified"
    assert rows["gameStateUpdate"].verification.default
    # the fixture's models know every top-level field it carries: no drift yet
    assert all(not e.drift for e in rows.values()), {e.name: e.drift for e in rows.values() if e.drift}


def test_drift_shows_a_field_no_model_knows(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    trade = [("2025-12-07T10:00:00", "standard/newTrade",
              [{"__trace": True}, {"id": "t-1", "gameId": "20251207-00000000000000aa", "brandNewField": 1}])]
    land(paths, fixture_records("drift", trade), "drift")
    ctx = Context(paths)
    row = next(e for e in catalog.catalog(ctx) if e.name == "standard/newTrade")
    assert row.drift == ["brandNewField"] and row.count == 1
    detail = catalog.event(ctx, "standard/newTrade")
    field = next(f for f in detail.fields if f.name == "brandNewField")
    assert field.known is False and field.model_type is None and field.types == {"integer": 1}


def test_event_detail_fields_and_exact_samples(ctx: Context, events: list) -> None:
    detail = catalog.event(ctx, "gameStateUpdate")
    n = sum(1 for name, _ in events if name == "gameStateUpdate")
    by_name = {f.name: f for f in detail.fields}
    assert by_name["gameId"].present == n and by_name["gameId"].share == 1.0
    assert by_name["gameId"].model_type == "str" and by_name["gameId"].types == {"string": n}
    assert by_name["price"].model_type == "Decimal | None"
    assert 0 < by_name["price"].present < n  # cooldown ticks carry no price
    assert len(detail.samples) == 3
    assert {s.origin for s in detail.samples} == {"newest", "oldest", "history"}
    payloads = [p for name, p in events if name == "gameStateUpdate"]
    for s in detail.samples:
        if not s.truncated:  # every number exactly as sent: parsed with Decimal, equal to a fixture payload
            assert json.loads(s.payload, parse_float=Decimal) in payloads
        assert s.payload.startswith("{\n  ")
    assert detail.samples[0].ts >= detail.samples[1].ts  # newest before oldest
    # an authenticated event with fewer rows than asked for: each of them once, the fixture's payloads
    pu = catalog.event(ctx, "playerUpdate")
    mine = [p for n_, p in events if n_ == "playerUpdate"]
    assert len(pu.samples) == min(3, len(mine))
    assert all(json.loads(s.payload, parse_float=Decimal) in mine for s in pu.samples)
    assert catalog.event(ctx, "goldenHourUpdate").samples == []  # known, never seen
    with pytest.raises(NotFound):
        catalog.event(ctx, "noSuchEvent")


def test_verify_persists_with_time(ctx: Context) -> None:
    ver = catalog.verify(ctx, "newSideBet", "needs-correction", "  amount is a string on the wire  ")
    assert ver.status == "needs-correction" and ver.note == "amount is a string on the wire" and not ver.default
    stored = read_verifications(ctx.paths)["newSideBet"]
    assert stored.status == "needs-correction" and stored.updated_at
    fresh = Context(ctx.paths)  # another process reads the same manifest
    assert next(e for e in catalog.catalog(fresh) if e.name == "newSideBet").verification.status == "needs-correction"
    with pytest.raises(BadRequest):
        catalog.verify(ctx, "newSideBet", "probably")
    with pytest.raises(NotFound):
        catalog.verify(ctx, "noSuchEvent", "verified")
    # the next (incremental) index build puts the new status into the event's protocol document
    build_table(ctx.paths, "events", full=False)
    rows = open_table(ctx.paths, "events").to_arrow().to_pylist()
    doc = next(r["text"] for r in rows if r["id"] == "protocol:newSideBet")
    assert "Verification: needs-correction" in doc
    catalog.verify(ctx, "newSideBet", "unverified")


def test_games_list_and_one_game(ctx: Context, root: DataPaths, events: list) -> None:
    n_games = sum(pq.ParquetFile(f).metadata.num_rows for f in root.doc_type_dir("games").glob("date=*/*.parquet"))
    page = games.games(ctx, limit=500)
    assert page.total == n_games == len(page.items) > 0
    assert [g.first_seen for g in page.items] == sorted((g.first_seen for g in page.items), reverse=True)
    assert page.dates and games.games(ctx, date=page.dates[0]).total > 0
    trades_per_game = Counter(p["gameId"] for name, p in events if name == "standard/newTrade")
    gid, n_trades = trades_per_game.most_common(1)[0]
    detail = games.game(ctx, gid)
    assert len(detail.trades) == n_trades
    assert {t.id for t in detail.trades} <= expected_trades(events)
    ticks = {k[1] for k in expected_ticks(events) if k[0] == gid and k[1] is not None}
    assert {p.tick for p in detail.prices} == ticks and detail.price_source == "game_tick"
    assert [p.tick for p in detail.prices] == sorted(p.tick for p in detail.prices)
    # a game known only from a gameHistory entry: its price list comes from complete_game
    history = next(p for name, p in events if name == "gameStateUpdate" and p.get("gameHistory"))["gameHistory"][0]
    past = games.game(ctx, history["id"])
    assert past.price_source in ("complete_game", "game_tick") and past.game.seed_verified is True
    if past.price_source == "complete_game":
        assert [p.price for p in past.prices] == history["prices"]
    for bad in ("nope", "20251207-ffffffffffffffff", "../../etc/passwd", ""):
        with pytest.raises(NotFound):
            games.game(ctx, bad)
    with pytest.raises(BadRequest):
        games.games(ctx, date="yesterday")


def test_search_finds_events_and_refuses_bad_filters(ctx: Context) -> None:
    res = search.search(ctx, "the logged-in player's cash balance, position and PnL", table="events", limit=5)
    assert "protocol:playerUpdate" in [h.id for h in res.hits[:3]]
    trades = search.search(ctx, "a buy trade", where="event_name = 'standard/newTrade'", limit=5)
    assert trades.hits and all(h.event_name == "standard/newTrade" for h in trades.hits)
    with pytest.raises(BadRequest, match="unknown table"):
        search.search(ctx, "x", table="nope")
    with pytest.raises(BadRequest, match="unknown column 'price'"):
        search.search(ctx, "x", where="price > 2")
    with pytest.raises(BadRequest, match="bad filter"):
        search.search(ctx, "x", where="event_name = = 'a'")
    with pytest.raises(BadRequest, match="empty query"):
        search.search(ctx, "  ")
    with pytest.raises(Unavailable, match="index build"):
        search.search(ctx, "x", table="code_context")


def test_overview_and_live_without_a_daemon(ctx: Context, root: DataPaths) -> None:
    ov = overview.overview(ctx)
    raw = next(h for h in ov.holdings if h.doc_type == "ws_event")
    assert raw.rows == len(parsed_events(captured_only=False))
    assert raw.first_day <= raw.last_day and "events" in ov.vector_tables
    assert ov.live.running is False and ov.live.connected is False and ov.live.player is None


def test_add_note_is_stored(tmp_path: Path) -> None:
    ctx = Context(DataPaths(tmp_path / "data"))
    out = add_note(ctx, "the feed went quiet at 03:00 UTC", index=False)
    assert out.stored.startswith("events_parquet/doc_type=debug_note/") and out.embedded == 0
    with pytest.raises(BadRequest):
        add_note(ctx, "   ")


def test_auth_examples_are_counted(ctx: Context) -> None:
    assert len(AUTH) > 0
    assert live.live(ctx).game is None  # no status file: no live game
