"""game_tick: one row per distinct tick state, from live `gameStateUpdate` and legacy `legacy.tick`.

Key (game_id, tick, cooldown_timer, rugged); the first arrival (ts, session_id, seq) wins. Cooldown
ticks (not active, not rugged, cooldownTimer > 0) are stored with tick and price NULL whatever the
wire says: the live genesis broadcast (tickCount 0, price 1) and legacy placeholder records (tick 0,
price 1.0) are cooldown/presale/settlement rows, never tick 0 of play. Absent active/rugged mean false.
Phase, as the feed's flags decide it: rugged, then active, then allowPreRoundBuys (presale) /
cooldownTimer (settlement).
"""

from __future__ import annotations

import duckdb

from vectra_pipeline.derive.common import dec, envelope
from vectra_pipeline.derive.schemas import DEC_SQL

EVENTS = ("gameStateUpdate", "legacy.tick")


def prepare(con: duckdb.DuckDBPyConnection, raw: str) -> tuple[dict, str]:
    """Needs the `stage` table (stage.build_stage); `raw` is joined back for the winners' raw_json."""
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE gt_c AS
    WITH live AS (
      SELECT ts, source, session_id, seq, direction, event_name, player_id, username, filename, prev, v
      FROM stage WHERE event_name = 'gameStateUpdate'
    ), legacy AS (
      SELECT ts, source, session_id, seq, direction, event_name, player_id, username, filename, prev, v
      FROM stage WHERE event_name = 'legacy.tick'
    ), typed AS (
      SELECT ts, source, session_id, seq, direction, event_name, player_id, username, filename, prev,
             v[1] AS game_id, TRY_CAST(v[2] AS BIGINT) AS tick, {dec('v[3]', DEC_SQL)} AS price,
             TRY_CAST(v[4] AS BOOLEAN) AS active_, TRY_CAST(v[5] AS BOOLEAN) AS rugged_,
             TRY_CAST(v[6] AS BIGINT) AS cooldown_timer, TRY_CAST(v[7] AS BOOLEAN) AS allow_pre_round_buys,
             TRY_CAST(v[8] AS BIGINT) AS trade_count, TRY_CAST(v[9] AS BIGINT) AS connected_players,
             NULL::VARCHAR AS legacy_phase,
             v[1] IS NULL OR (v[2] IS NOT NULL AND tick IS NULL) OR (v[3] IS NOT NULL AND price IS NULL)
               OR (v[4] IS NOT NULL AND active_ IS NULL) OR (v[5] IS NOT NULL AND rugged_ IS NULL)
               OR (v[6] IS NOT NULL AND cooldown_timer IS NULL) AS failed
      FROM live
      UNION ALL
      SELECT ts, source, session_id, seq, direction, event_name, player_id, username, filename, prev,
             v[1], TRY_CAST(v[2] AS BIGINT), {dec('v[3]', DEC_SQL)},
             TRY_CAST(v[4] AS BOOLEAN), TRY_CAST(v[5] AS BOOLEAN), TRY_CAST(v[6] AS BIGINT),
             v[7] = 'PRESALE', TRY_CAST(v[8] AS BIGINT), NULL::BIGINT, v[7],
             v[1] IS NULL OR TRY_CAST(v[2] AS BIGINT) IS NULL OR {dec('v[3]', DEC_SQL)} IS NULL
      FROM legacy
    )
    SELECT * EXCLUDE (active_, rugged_, tick, price),
           coalesce(active_, false) AS active, coalesce(rugged_, false) AS rugged,
           -- a cooldown broadcast (live genesis: tickCount 0, price 1; legacy placeholders) is not tick 0 of play
           CASE WHEN NOT coalesce(active_, false) AND NOT coalesce(rugged_, false)
                     AND coalesce(cooldown_timer, 0) > 0 THEN NULL ELSE tick END AS tick,
           CASE WHEN NOT coalesce(active_, false) AND NOT coalesce(rugged_, false)
                     AND coalesce(cooldown_timer, 0) > 0 THEN NULL ELSE price END AS price,
           CASE WHEN coalesce(rugged_, false) THEN 'rugged'
                WHEN coalesce(active_, false) THEN 'active'
                WHEN coalesce(allow_pre_round_buys, false) THEN 'presale'
                WHEN coalesce(cooldown_timer, 0) > 0 THEN 'settlement'
                ELSE 'unknown' END AS phase
    FROM typed
    """)
    con.execute("""
    CREATE OR REPLACE TEMP TABLE gt_w AS
    SELECT * FROM gt_c WHERE NOT failed
    QUALIFY row_number() OVER (PARTITION BY game_id, tick, cooldown_timer, rugged ORDER BY ts, session_id, seq) = 1
    """)
    # rows of the previous date's tail (`prev`) only claim their keys: first sighting wins, across midnight
    rows_in, failed = con.execute("SELECT count(*), count(*) FILTER (failed) FROM gt_c WHERE NOT prev").fetchall()[0]
    (rows_out, earlier) = con.execute("SELECT count(*) FILTER (NOT prev), count(*) FILTER (prev) FROM gt_w"
                                      ).fetchall()[0]
    stats = {"rows_in": rows_in, "model_failures": failed, "rows_out": rows_out,
             "duplicates_dropped": rows_in - failed - rows_out, "keys_of_previous_date": earlier}
    final = f"""
    SELECT {envelope('game_tick', 'w')},
           r.raw_json, w.event_name, w.phase, w.tick, w.price, w.active, w.rugged, w.cooldown_timer,
           w.allow_pre_round_buys, w.trade_count, w.connected_players, w.legacy_phase
    FROM (SELECT * FROM gt_w WHERE NOT prev) w JOIN {raw} r ON r.session_id = w.session_id AND r.seq = w.seq AND r.filename = w.filename
    WHERE r.event_name IN ('gameStateUpdate', 'legacy.tick')
    """
    return stats, final
