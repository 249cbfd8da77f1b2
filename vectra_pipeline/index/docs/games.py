"""One document per game: from the typed `games` table enriched with `complete_game`, or, while the
typed table is not built yet, from raw gameStateUpdate / legacy.tick rows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import quote
from vectra_pipeline.index.docs.common import PAYLOAD_SQL, WS_EVENT_AGGREGATE, Doc, source_key

_PAYLOAD_VIEW = """
CREATE OR REPLACE TEMP VIEW payloads AS
SELECT event_name, direction, ts, session_id, seq, game_id, {payload} AS p
FROM read_parquet({glob}, union_by_name=true) WHERE json_valid(raw_json)
"""


def _plain_number(value: Any) -> str:
    """A number as a reader writes it: Decimal('2.500000') -> '2.5'; None -> 'unknown'."""
    if value is None:
        return "unknown"
    text = str(value)
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text.lower() else text


def complete_games(paths: DataPaths, con: Any) -> dict[str, dict]:
    """Every `complete_game` row by game id (the server's own game history)."""
    if not any(paths.doc_type_dir("complete_game").glob("date=*/*.parquet")):
        return {}
    cur = con.execute("SELECT * FROM read_parquet(?, union_by_name=true) ORDER BY game_id",
                      [paths.glob("complete_game")])
    cols = [d[0] for d in cur.description]
    return {row[cols.index("game_id")]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def game_docs_for_file(paths: DataPaths, con: Any, file: Path, complete: dict[str, dict]) -> list[Doc]:
    """Game documents from one `games` partition file, enriched with `complete_game` rows."""
    cur = con.execute("SELECT * FROM read_parquet(?, union_by_name=true) ORDER BY game_id", [str(file)])
    cols = [d[0] for d in cur.description]
    source = source_key(paths, file)
    docs = []
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        docs.append(_game_doc(row, complete.get(row.get("game_id")), source))
    return docs


def _game_doc(row: dict, cg: dict | None, source: str) -> Doc:
    gid = row.get("game_id")
    first = row.get("first_seen")
    date = first.strftime("%Y-%m-%d") if hasattr(first, "strftime") else (gid or "")[:8]
    peak = row.get("peak") if row.get("peak") is not None else (cg or {}).get("peak_multiplier")
    ticks = row.get("max_tick") if row.get("max_tick") is not None else row.get("ticks")
    parts = [f"Game {gid} on {date}: {_plain_number(ticks)} ticks, peak multiplier {_plain_number(peak)}x"]
    if row.get("rug_tick") is not None or row.get("rug_price") is not None:
        parts.append(f"rugged at tick {_plain_number(row.get('rug_tick'))} at price {_plain_number(row.get('rug_price'))}")
    parts.append(f"{_plain_number(row.get('trade_count'))} trades seen")
    if cg:
        parts.append(f"{_plain_number(cg.get('global_trades'))} trades and {_plain_number(cg.get('global_sidebets'))} side bets "
                     f"by the server's game history")
    god = {k: v for k, v in {**(cg or {}), **row}.items() if "god" in k.lower() and v not in (None, 0, False)}
    if god:
        parts.append("god candles: " + ", ".join(f"{k} {_plain_number(v)}" for k, v in sorted(god.items())))
    seed = row.get("seed_verified") if row.get("seed_verified") is not None else (cg or {}).get("seed_verified")
    if seed is not None:
        parts.append("provably fair seed verified" if seed else "provably fair seed NOT verified")
    if row.get("sources"):
        parts.append("sources " + ", ".join(row["sources"]))
    if row.get("completed") is not None:
        parts.append("complete" if row["completed"] else "incomplete (not seen to the end)")
    return Doc(id=f"game:{gid}", text="; ".join(parts) + ".", kind="game", source_file=source,
               event_name="gameStateUpdate", game_id=gid, date=date)


_RAW_GAMES_SQL = """
WITH t AS (
  SELECT coalesce(game_id, p ->> 'gameId', p ->> 'game_id') AS game_id, ts, event_name,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'tick' ELSE p ->> 'tickCount' END AS BIGINT) AS tick,
         TRY_CAST(p ->> 'price' AS DECIMAL(38, 18)) AS price,
         TRY_CAST(p ->> 'rugged' AS BOOLEAN) AS rugged,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'trade_count' ELSE p ->> 'tradeCount' END AS BIGINT) AS trades,
         CASE WHEN event_name = 'legacy.tick' THEN p ->> 'phase' END AS phase,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'cooldown_timer' ELSE p ->> 'cooldownTimer' END AS BIGINT) AS cooldown
  FROM payloads WHERE event_name IN ('gameStateUpdate', 'legacy.tick')
), play AS (SELECT * FROM t WHERE game_id IS NOT NULL AND tick IS NOT NULL AND coalesce(cooldown, 0) = 0
            AND coalesce(phase, '') NOT IN ('UNKNOWN', 'PRESALE'))
SELECT game_id, strftime(min(ts), '%Y-%m-%d'), max(tick), max(price), min(tick) FILTER (WHERE rugged),
       arg_min(price, tick) FILTER (WHERE rugged), max(trades), list(DISTINCT event_name ORDER BY event_name)
FROM play GROUP BY game_id ORDER BY game_id
"""


def game_docs_from_raw(paths: DataPaths, con: Any) -> list[Doc]:
    """Fallback when the typed `games` table is not built: games from raw gameStateUpdate/legacy.tick."""
    if not any(paths.doc_type_dir("ws_event").glob("date=*/*.parquet")):
        return []
    con.execute(_PAYLOAD_VIEW.format(payload=PAYLOAD_SQL, glob=quote(paths.glob("ws_event"))))
    docs = []
    for gid, date, max_tick, peak, rug_tick, rug_price, trades, events in con.execute(_RAW_GAMES_SQL).fetchall():
        row = {"game_id": gid, "max_tick": max_tick, "peak": peak, "rug_tick": rug_tick, "rug_price": rug_price,
               "trade_count": trades, "sources": events}
        doc = _game_doc(row, None, WS_EVENT_AGGREGATE)
        docs.append(replace(doc, date=date))  # the day of the game's first raw row
    return docs
