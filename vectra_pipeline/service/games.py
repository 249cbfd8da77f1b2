"""Games from the typed tables: the list (ticks, peak, rug tick, trades, seed verified) and one game's
price series with its trades. Prices and amounts stay exact decimals (strings in JSON)."""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest, NotFound

MAX_PAGE = 500
_GAME_ID = re.compile(r"^[\w.:-]{1,80}$")
_DATE_ID = re.compile(r"^(\d{4})(\d{2})(\d{2})-")


class GameSummary(BaseModel):
    game_id: str
    date: str
    first_seen: datetime
    last_seen: datetime
    ticks: int
    max_tick: int | None
    peak: Decimal | None
    rug_tick: int | None
    rug_price: Decimal | None
    trade_count: int
    seed_verified: bool | None
    completed: bool
    sources: list[str]


class GamesPage(BaseModel):
    total: int
    offset: int
    limit: int
    date: str | None
    dates: list[str]  # dates that have a games partition, newest first
    items: list[GameSummary]


class PricePoint(BaseModel):
    tick: int
    price: Decimal


class Trade(BaseModel):
    id: str
    ts: datetime
    tick: int | None
    type: str | None
    price: Decimal | None
    amount: Decimal | None
    qty: Decimal | None
    coin: str | None
    player_id: str | None
    username: str | None


class GameDetail(BaseModel):
    game: GameSummary
    prices: list[PricePoint]
    price_source: Literal["game_tick", "complete_game", "none"]
    trades: list[Trade]
    server_seed_hash: str | None = None
    server_seed: str | None = None


def _dates(ctx: Context, doc_type: str) -> list[str]:
    return sorted((p.name.split("=", 1)[1] for p in ctx.paths.doc_type_dir(doc_type).glob("date=*")
                   if any(p.glob("*.parquet"))), reverse=True)


def _check_date(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    try:
        return Date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadRequest(f"date must be YYYY-MM-DD, not {value!r}") from None


_SUMMARY = ("game_id, date::VARCHAR AS date, first_seen, last_seen, ticks, max_tick, peak, rug_tick, rug_price, trade_count, "
            "seed_verified, completed, coalesce(sources, []) AS sources")


def games(ctx: Context, limit: int = 50, offset: int = 0, date: str | None = None) -> GamesPage:
    """Games newest first (by first seen), optionally of one UTC date."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    day = _check_date(date)
    where, params = ("date = ?", [day]) if day else ("true", [])
    total = ctx.execute(f"SELECT count(*) FROM games WHERE {where}", params)[0][0]
    rows = ctx.rows(f"SELECT {_SUMMARY} FROM games WHERE {where} ORDER BY first_seen DESC, game_id LIMIT ? OFFSET ?",
                    [*params, limit, offset])
    return GamesPage(total=total, offset=offset, limit=limit, date=day, dates=_dates(ctx, "games"),
                     items=[GameSummary(**r) for r in rows])


def _days_of(ctx: Context, game_id: str, row: dict | None) -> list[str]:
    """The UTC dates whose partitions can hold the game: its first-seen date (or the date in its id) and
    the next one (a game crossing midnight)."""
    if row is not None:
        first = row["date"]
    elif m := _DATE_ID.match(game_id):
        first = f"{m[1]}-{m[2]}-{m[3]}"
    else:
        return _dates(ctx, "game_tick")
    try:
        nxt = (Date.fromisoformat(first) + timedelta(days=1)).isoformat()
    except ValueError:
        return _dates(ctx, "game_tick")
    return [first, nxt]


def game(ctx: Context, game_id: str) -> GameDetail:
    """One game: summary, price per tick of play (game_tick; else the finished game's price list), trades."""
    if not _GAME_ID.match(game_id or ""):
        raise NotFound(f"unknown game {game_id!r}")
    found = ctx.rows(f"SELECT {_SUMMARY} FROM games WHERE game_id = ? LIMIT 1", [game_id])
    row = found[0] if found else None
    days = _days_of(ctx, game_id, row)
    marks = ", ".join("?" * len(days))
    ticks = ctx.execute(
        f"SELECT tick, arg_max(price, (rugged, ts)) FROM game_tick WHERE date IN ({marks}) AND game_id = ? "
        f"AND tick IS NOT NULL AND price IS NOT NULL AND phase IN ('active', 'rugged') GROUP BY tick ORDER BY tick",
        [*days, game_id])
    trades = ctx.rows(
        f"SELECT action_id AS id, ts, tick, action_type AS type, price, amount, qty, coin, player_id, username "
        f"FROM player_action WHERE date IN ({marks}) AND game_id = ? AND action_kind = 'trade' "
        f"ORDER BY ts, session_id, seq", [*days, game_id])
    done = ctx.rows(
        f"SELECT prices, server_seed_hash, server_seed, seed_verified, peak_multiplier, rug_price, tick_count, ts "
        f"FROM complete_game WHERE date IN ({marks}) AND game_id = ? ORDER BY ts LIMIT 1", [*days, game_id])
    cg = done[0] if done else None
    if row is None and not ticks and not trades and cg is None:
        raise NotFound(f"unknown game {game_id!r}: not in games, game_tick, player_action or complete_game")
    if row is None:  # not aggregated yet (today's games table is derived by Dagster): a summary from what is there
        row = _summary_from_parts(game_id, days[0], ticks, trades, cg)
    if ticks:
        prices, source = [PricePoint(tick=t, price=p) for t, p in ticks], "game_tick"
    elif cg is not None and cg["prices"]:
        prices, source = [PricePoint(tick=i, price=p) for i, p in enumerate(cg["prices"])], "complete_game"
    else:
        prices, source = [], "none"
    return GameDetail(game=GameSummary(**row), prices=prices, price_source=source,
                      trades=[Trade(**t) for t in trades],
                      server_seed_hash=cg["server_seed_hash"] if cg else None,
                      server_seed=cg["server_seed"] if cg else None)


def _summary_from_parts(game_id: str, day: str, ticks: list[tuple], trades: list[dict], cg: dict | None) -> dict:
    times = [t["ts"] for t in trades] + ([cg["ts"]] if cg else [])
    first = min(times) if times else datetime.fromisoformat(f"{day}T00:00:00+00:00")
    return {"game_id": game_id, "date": day, "first_seen": first, "last_seen": max(times) if times else first,
            "ticks": len(ticks), "max_tick": ticks[-1][0] if ticks else None,
            "peak": max((p for _, p in ticks), default=None) or (cg or {}).get("peak_multiplier"),
            "rug_tick": None, "rug_price": (cg or {}).get("rug_price"), "trade_count": len(trades),
            "seed_verified": (cg or {}).get("seed_verified"), "completed": cg is not None, "sources": []}
