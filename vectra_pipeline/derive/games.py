"""games: one row per game, aggregated from the typed game_tick, player_action and complete_game
tables. A game belongs to the UTC date it was first seen: date D holds the games with ticks in D
but none in D-1 (plus games only known from D's complete_game), aggregated over D and D+1 so a game
crossing midnight is whole."""

from __future__ import annotations

import duckdb

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.common import shift, typed_scan
from vectra_pipeline.derive.schemas import DEC_SQL

DEPENDS_ON = ("game_tick", "player_action", "complete_game")

_EMPTY = {
    "game_tick": f"(SELECT NULL::TIMESTAMPTZ ts, NULL source, NULL session_id, NULL::BIGINT seq, NULL game_id, "
                 f"NULL::BIGINT tick, NULL::{DEC_SQL} price, NULL::BOOLEAN rugged, NULL phase WHERE false)",
    "player_action": "(SELECT NULL game_id, NULL action_kind WHERE false)",
    "complete_game": f"(SELECT NULL::TIMESTAMPTZ ts, NULL source, NULL session_id, NULL::BIGINT seq, NULL game_id, "
                     f"NULL raw_json, NULL::{DEC_SQL} peak_multiplier, NULL::{DEC_SQL} rug_price, "
                     f"NULL::BIGINT tick_count, NULL::BOOLEAN seed_verified WHERE false)",
}
_COLS = {
    "game_tick": "ts, source, session_id, seq, game_id, tick, price, rugged, phase",
    "player_action": "game_id, action_kind",
    "complete_game": "ts, source, session_id, seq, game_id, raw_json, peak_multiplier, rug_price, tick_count, "
                     "seed_verified",
}


def _scan(paths: DataPaths, table: str, dates: list[str]) -> str:
    return typed_scan(paths, table, dates, _COLS[table]) or _EMPTY[table]


def prepare(con: duckdb.DuckDBPyConnection, paths: DataPaths, date: str) -> tuple[dict, str]:
    prev, nxt = shift(date, -1), shift(date, 1)
    ticks = _scan(paths, "game_tick", [date, nxt])
    prev_ticks = _scan(paths, "game_tick", [prev])
    actions = _scan(paths, "player_action", [date, nxt])
    done = _scan(paths, "complete_game", [date, nxt])
    today_done = _scan(paths, "complete_game", [date])
    today_ticks = _scan(paths, "game_tick", [date])
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE g_ids AS
    SELECT DISTINCT game_id FROM (SELECT game_id FROM {today_ticks} UNION ALL SELECT game_id FROM {today_done})
    WHERE game_id IS NOT NULL AND game_id NOT IN (SELECT game_id FROM {prev_ticks} WHERE game_id IS NOT NULL)
    """)
    (rows_in,) = con.execute("SELECT count(*) FROM g_ids").fetchall()[0]
    final = f"""
    WITH t AS (
      SELECT game_id, min(ts) AS first_seen, max(ts) AS last_seen,
             arg_min(struct_pack(source, session_id, seq), (ts, session_id, seq)) AS first,
             -- play only: cooldown/presale/settlement rows are not ticks of the game
             count(DISTINCT tick) FILTER (tick IS NOT NULL AND phase IN ('active', 'rugged')) AS ticks,
             max(tick) FILTER (phase IN ('active', 'rugged')) AS max_tick,
             max(price) FILTER (phase IN ('active', 'rugged')) AS peak,
             min(tick) FILTER (rugged) AS rug_tick, arg_min(price, tick) FILTER (rugged) AS rug_price,
             list(DISTINCT source ORDER BY source) AS sources
      FROM {ticks} WHERE game_id IN (SELECT game_id FROM g_ids) GROUP BY game_id
    ), a AS (
      SELECT game_id, count(*) AS trade_count FROM {actions}
      WHERE action_kind = 'trade' AND game_id IN (SELECT game_id FROM g_ids) GROUP BY game_id
    ), c AS (
      SELECT game_id, arg_min(struct_pack(ts, source, session_id, seq, raw_json, peak_multiplier, rug_price,
                                          tick_count, seed_verified), ts) AS cg
      FROM {done} WHERE game_id IN (SELECT game_id FROM g_ids) GROUP BY game_id
    )
    SELECT coalesce(t.first_seen, c.cg.ts) AS ts, coalesce(t.first.source, c.cg.source) AS source,
           'games' AS doc_type, coalesce(t.first.session_id, c.cg.session_id) AS session_id, g.game_id,
           NULL::VARCHAR AS player_id, NULL::VARCHAR AS username, coalesce(t.first.seq, c.cg.seq) AS seq,
           'received' AS direction,
           -- the finished game's gameHistory entry; else a summary (a tick's frame would mean reading
           -- every tick's raw_json again)
           coalesce(c.cg.raw_json, to_json(struct_pack(game_id := g.game_id, first_seen := t.first_seen,
                    last_seen := t.last_seen, max_tick := t.max_tick, peak := t.peak::VARCHAR))::VARCHAR) AS raw_json,
           NULL::VARCHAR AS event_name,
           coalesce(t.first_seen, c.cg.ts) AS first_seen, coalesce(t.last_seen, c.cg.ts) AS last_seen,
           coalesce(t.ticks, 0) AS ticks, t.max_tick, coalesce(t.peak, c.cg.peak_multiplier) AS peak,
           t.rug_tick, coalesce(t.rug_price, c.cg.rug_price) AS rug_price, coalesce(a.trade_count, 0) AS trade_count,
           coalesce(t.sources, [c.cg.source]) AS sources, c.game_id IS NOT NULL AS completed,
           c.cg.seed_verified AS seed_verified
    FROM g_ids g LEFT JOIN t USING (game_id) LEFT JOIN a USING (game_id) LEFT JOIN c USING (game_id)
    ORDER BY ts, game_id
    """
    (rows_out,) = con.execute(f"SELECT count(*) FROM ({final})").fetchall()[0]
    return {"rows_in": rows_in, "model_failures": 0, "rows_out": rows_out, "duplicates_dropped": 0}, final
