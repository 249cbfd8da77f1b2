"""Trades and side bets: one document per (game, player), not one per item (docs/decisions/0014).

A game's items can lie in several raw files (a 15-minute roll in the middle of a game, three capture
sessions seeing the same trade, a game over midnight UTC), so a document is built from every file
that holds its game: the changed ("seed") files give the games, then the other raw files of the same
date and the dates either side give the rest of those games' items. Each item counts once (trades by
their id, side bets by their content). A document's source_file is the file of its first item, so an
incremental build that re-reads a changed file rewrites exactly the documents that file takes part in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.docs.common import Doc, json_text, short_hash, short_number, source_key

TRADE_EVENT = "standard/newTrade"
SIDEBET_EVENTS = {"newSideBet": "placed", "currentSidebet": "active", "currentSidebetResult": "result"}
FOLDED_EVENTS = (TRADE_EVENT, *SIDEBET_EVENTS)
DEFAULT_COIN = "solana"  # named in a trade's clause only when it is another coin


@dataclass
class _Group:
    kind: str  # trade | sidebet
    game_id: str | None
    player_id: str | None
    name: str | None = None
    first_at: str = ""
    first_date: str = ""
    source: str = ""
    events: set[str] = field(default_factory=set)
    clauses: dict[str, str] = field(default_factory=dict)  # item key -> clause, first sighting wins


def player_game_docs(paths: DataPaths, con: Any, ws_files: dict[str, Path], seeds: Iterable[str]) -> list[Doc]:
    """The trade and side-bet documents of every game the seed files (present raw ws_event keys) hold."""
    by_date: dict[str, list[str]] = {}
    for key in seeds:
        by_date.setdefault(date_of(key), []).append(key)
    docs: list[Doc] = []
    for day, keys in sorted(by_date.items()):
        docs += _docs_of_date(paths, con, ws_files, day, set(keys))
    return docs


def date_of(key: str) -> str:
    return key.split("/date=", 1)[1][:10]


def _docs_of_date(paths: DataPaths, con: Any, ws_files: dict[str, Path], day: str, seeds: set[str]) -> list[Doc]:
    items = _items(_rows(con, [ws_files[k] for k in sorted(seeds)], None))
    games = {i.game_id for i in items if i.game_id}
    d = date.fromisoformat(day)
    near = {str(d - timedelta(days=1)), day, str(d + timedelta(days=1))}
    others = [p for k, p in sorted(ws_files.items()) if k not in seeds and date_of(k) in near]
    if others:
        # the rest of the seeds' games; items without a game id only from this date (their own group)
        items += [i for i in _items(_rows(con, others, sorted(games)))
                  if (i.game_id in games if i.game_id else i.date == day)]
    items.sort(key=lambda i: i.order)  # capture order whichever files were seeds: full = incremental
    groups: dict[tuple[str, str | None, str | None], _Group] = {}
    sources = {str(p): k for k, p in ws_files.items()}  # DuckDB's filename is the path as given (s3:// too)
    for i in items:
        group = groups.get((i.kind, i.game_id, i.player_id))
        if group is None:
            group = groups[(i.kind, i.game_id, i.player_id)] = _Group(
                i.kind, i.game_id, i.player_id, first_at=i.at, first_date=i.date,
                source=sources.get(i.filename) or source_key(paths, Path(i.filename)))
        group.name = group.name or i.item.get("username") or i.username
        group.events.add(i.event_name)
        item = i.item
        key = (str(item.get("id") or short_hash(json_text(item))) if i.kind == "trade"
               else short_hash(f"{i.event_name}|{json_text(item)}"))
        if key not in group.clauses:  # the same trade captured by three sessions is one clause
            group.clauses[key] = _trade_clause(item) if i.kind == "trade" else _sidebet_clause(i.event_name, item)
    return [_doc(g) for g in groups.values()]


@dataclass
class _Item:
    order: tuple
    filename: str
    event_name: str
    kind: str
    game_id: str | None
    player_id: str | None
    username: str | None
    date: str
    at: str
    item: dict


def _rows(con: Any, files: list[Path], games: list[str] | None) -> list[tuple]:
    """Trade and side-bet rows of the files; with `games`: only rows of those games (and rows without
    a game id, whose payload may still name one)."""
    where = "" if games is None else "AND (game_id IS NULL OR list_contains(?::VARCHAR[], game_id))"
    return con.execute(
        f"""SELECT epoch_us(ts), session_id, seq, filename, event_name, game_id, player_id, username,
                   strftime(ts, '%Y-%m-%d'), strftime(ts, '%H:%M'), raw_json
            FROM read_parquet(?, union_by_name=true, filename=true)
            WHERE event_name IN ({", ".join("?" * len(FOLDED_EVENTS))}) {where}""",
        [[str(f) for f in files], *FOLDED_EVENTS, *([] if games is None else [games])],
    ).fetchall()


def _items(rows: list[tuple]) -> list[_Item]:
    out = []
    for ts, session, seq, filename, event_name, game_id, player_id, username, day, at, raw in rows:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue  # invalid rows are counted by protocol_docs
        payload = value[-1] if isinstance(value, list) and value else value
        for n, item in enumerate(payload if isinstance(payload, list) else [payload]):
            if isinstance(item, dict):
                out.append(_Item((ts, session or "", seq or 0, n), filename, event_name,
                                 "trade" if event_name == TRADE_EVENT else "sidebet",
                                 item.get("gameId") or game_id, item.get("playerId") or player_id, username, day,
                                 at, item))
    return out


def _trade_clause(item: dict) -> str:
    coin = item.get("coin")
    coin = f" {coin}" if coin and coin != DEFAULT_COIN else ""
    lev = f" leverage {item['leverage']}x" if item.get("leverage") not in (None, 1) else ""
    # price is the game's multiplier: "at 2.09x"
    return (f"{item.get('type')} {short_number(item.get('amount'))}{coin} at {short_number(item.get('price'))}x "
            f"tick {item.get('tickIndex')}{lev}")


def _sidebet_clause(event_name: str, item: dict) -> str:
    fields = [SIDEBET_EVENTS[event_name]]
    if item.get("betAmount") is not None:
        fields.append(f"bet {short_number(item['betAmount'])}")
    if item.get("xPayout") is not None:
        fields.append(f"at {short_number(item['xPayout'])}x")
    if item.get("startTick") is not None or item.get("endTick") is not None:
        fields.append(f"ticks {item.get('startTick')}-{item.get('endTick')}")
    elif item.get("tickIndex") is not None:
        fields.append(f"tick {item['tickIndex']}")
    fields += [f"{k} {short_number(item[k])}" for k in ("payout", "profit") if item.get(k) is not None]
    return " ".join(fields)


def _doc(g: _Group) -> Doc:
    who = f"{g.name} ({g.player_id})" if g.name else f"anonymous player {g.player_id}"
    game = g.game_id or f"unknown-{g.first_date}"
    head = "Trades" if g.kind == "trade" else "Side bets"
    # the first item's time to the minute: the date is a filter column, seconds mean nothing to a search
    body = f"({len(g.clauses)}): {'; '.join(g.clauses.values())}."
    text = f"{head} by {who} in game {game} at {g.first_at} UTC {body}"
    prefix = "trades" if g.kind == "trade" else "sidebets"
    return Doc(id=f"{prefix}:{game}:{g.player_id}", text=text, kind=g.kind, source_file=g.source,
               event_name=next(iter(g.events)) if len(g.events) == 1 else None, game_id=g.game_id,
               player_id=g.player_id, date=g.first_date,
               embed_text=f"{head} by {g.name or 'an anonymous player'} {body}")
