"""complete_game: one row per finished game, from the `gameHistory[]` entries of gameStateUpdate
(key: entry id). An entry repeats in 20-30 payloads (last 10 games, several clients), so the first
sighting wins, and a game belongs to the UTC date of its first sighting: ids already seen in the
last hours of the previous date are left to that date. `seed_verified` = sha256(serverSeed) ==
serverSeedHash, stored per row. raw_json is the entry's own JSON."""

from __future__ import annotations

import duckdb

from vectra_pipeline.derive.common import dec
from vectra_pipeline.derive.schemas import DEC_SQL

LOOKBACK = "INTERVAL 3 HOUR"


def _sightings(raw: str, where: str = "true") -> str:
    return f"""
    SELECT ts, source, session_id, seq, direction, unnest(ids) AS hid, unnest(range(len(ids))) AS idx
    FROM (SELECT ts, source, session_id, seq, direction,
                 json_extract_string(raw_json, '$[#-1].gameHistory[*].id') AS ids
          FROM {raw} WHERE event_name = 'gameStateUpdate' AND contains(raw_json, '"gameHistory"') AND {where})
    """


def prepare(con: duckdb.DuckDBPyConnection, raw: str, prev_raw: str, date: str) -> tuple[dict, str]:
    """Needs the `stage` table (the gameHistory ids of the rows carrying one); `raw` is joined back for
    the winning entries' JSON."""
    con.execute("""
    CREATE OR REPLACE TEMP TABLE cg_s AS
    SELECT ts, source, session_id, seq, direction, filename, unnest(ids) AS hid, unnest(range(len(ids))) AS idx
    FROM (SELECT ts, source, session_id, seq, direction, filename, history_ids AS ids FROM stage
          WHERE event_name = 'gameStateUpdate' AND v[10] IS NOT NULL AND NOT prev)
    """)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE cg_prev AS SELECT DISTINCT hid FROM
        ({_sightings(prev_raw, f"ts >= TIMESTAMPTZ '{date} 00:00:00+00' - {LOOKBACK}")}) WHERE hid IS NOT NULL""")
    con.execute("""
    CREATE OR REPLACE TEMP TABLE cg_w AS
    SELECT * FROM cg_s WHERE hid IS NOT NULL AND hid NOT IN (SELECT hid FROM cg_prev)
    QUALIFY row_number() OVER (PARTITION BY hid ORDER BY ts, session_id, seq) = 1
    """)
    rows_in, failed, earlier = con.execute("""SELECT count(*), count(*) FILTER (hid IS NULL),
        count(DISTINCT hid) FILTER (hid IN (SELECT hid FROM cg_prev)) FROM cg_s""").fetchall()[0]
    (rows_out,) = con.execute("SELECT count(*) FROM cg_w").fetchall()[0]
    stats = {"rows_in": rows_in, "model_failures": failed, "rows_out": rows_out,
             "duplicates_dropped": rows_in - failed - rows_out, "left_to_previous_date": earlier}
    final = f"""
    WITH e AS (
      SELECT w.*, json_extract(r.raw_json, '$[#-1].gameHistory[' || w.idx || ']') AS entry
      FROM cg_w w JOIN {raw} r ON r.session_id = w.session_id AND r.seq = w.seq AND r.filename = w.filename
      WHERE r.event_name = 'gameStateUpdate'
    ), v AS (
      SELECT *, json_extract_string(entry, ['$.timestamp', '$.peakMultiplier', '$.rugged',
               '$.provablyFair.serverSeed', '$.provablyFair.serverSeedHash', '$.gameVersion']) AS v,
             list_transform(json_extract_string(entry, '$.prices[*]'), lambda x: {dec('x', DEC_SQL)}) AS prices,
             json_array_length(entry, '$.globalTrades') AS global_trades,
             json_array_length(entry, '$.globalSidebets') AS global_sidebets
      FROM e
    )
    SELECT ts, source, 'complete_game' AS doc_type, session_id, hid AS game_id, NULL::VARCHAR AS player_id,
           NULL::VARCHAR AS username, seq, direction, entry::VARCHAR AS raw_json, 'gameStateUpdate' AS event_name,
           TRY_CAST(v[1] AS BIGINT) AS history_timestamp, {dec('v[2]', DEC_SQL)} AS peak_multiplier,
           TRY_CAST(v[3] AS BOOLEAN) AS rugged, v[4] AS server_seed, v[5] AS server_seed_hash,
           coalesce(v[4] IS NOT NULL AND sha256(v[4]) = lower(v[5]), false) AS seed_verified,
           v[6] AS game_version, len(prices) AS tick_count, prices[-1] AS rug_price, prices,
           global_trades::BIGINT AS global_trades, global_sidebets::BIGINT AS global_sidebets
    FROM v ORDER BY ts, session_id, seq, idx
    """
    return stats, final


