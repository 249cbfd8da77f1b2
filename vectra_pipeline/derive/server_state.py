"""server_state: the server's truth for a player, from `playerUpdate` (the logged-in player's own
balance/position/PnL), `gameStatePlayerUpdate.leaderboardEntry` and every gameStateUpdate
leaderboard entry (the top 10).

A leaderboard repeats every 250 ms, so rows are *distinct states*: key (state_source, player_id,
game_id, state_key) where state_key hashes the position fields (cash, position_qty, avg_cost,
total_invested, has_active_trades, sidebet_pnl; pnl too for playerUpdate). Mark-to-market pnl of a
leaderboard entry moves every tick and is kept as the value first seen with that position.
The first arrival wins; raw_json is the entry's own JSON for leaderboard rows.
"""

from __future__ import annotations

import duckdb

from vectra_pipeline.derive.common import dec, envelope
from vectra_pipeline.derive.schemas import DEC_SQL
from vectra_pipeline.derive.stage import NO_ID_PREFIX, SMALL_ROWS
from vectra_pipeline.derive.validation import validate_events

EVENTS = ("playerUpdate", "gameStatePlayerUpdate")
_ENTRY = [".id", ".username", ".positionQty", ".avgCost", ".totalInvested", ".pnl", ".pnlPercent", ".sidebetPnl",
          ".hasActiveTrades", ".position", ".level"]


def _p(prefix: str, keys: list[str]) -> str:
    return "[" + ", ".join(f"'{prefix}{k}'" for k in keys) + "]"


def _entry_cols(v: str) -> str:
    return (f"{dec(f'{v}[3]', DEC_SQL)} AS position_qty, {dec(f'{v}[4]', DEC_SQL)} AS avg_cost, "
            f"{dec(f'{v}[5]', DEC_SQL)} AS total_invested, {dec(f'{v}[6]', DEC_SQL)} AS pnl, "
            f"{dec(f'{v}[7]', DEC_SQL)} AS pnl_percent, {dec(f'{v}[8]', DEC_SQL)} AS sidebet_pnl, "
            f"TRY_CAST({v}[9] AS BOOLEAN) AS has_active_trades, TRY_CAST({v}[10] AS BIGINT) AS rank, "
            f"TRY_CAST({v}[11] AS BIGINT) AS level")


def _state_key(fields: list[str]) -> str:
    return "md5(concat_ws('|', " + ", ".join(f"coalesce(CAST({f} AS VARCHAR), '~')" for f in fields) + "))"


_POS = ["cash", "position_qty", "avg_cost", "total_invested", "has_active_trades", "sidebet_pnl"]



def prepare(con: duckdb.DuckDBPyConnection, raw: str) -> tuple[dict, str]:
    """Needs the `stage` table (stage.build_stage); `raw` is joined back for the winning entries' JSON."""
    small = SMALL_ROWS
    validate_events(con, small, EVENTS, "ss_bad")
    (failures,) = con.execute("SELECT count(*) FROM ss_bad b SEMI JOIN (SELECT session_id, seq FROM stage "
                              "WHERE NOT prev) s ON s.session_id = b.session_id AND s.seq = b.seq").fetchall()[0]
    # Leaderboards: 10 entries x every gameStateUpdate, parsed once in the stage into position-state keys;
    # pick the first row of each distinct state, and fetch the winning entries' JSON (and so their other
    # fields) afterwards.
    # one hash aggregate over the unnested entries (no sort): the first sighting of each distinct state
    # (stage.lb: one position-state key per entry; an entry without an id has a key starting NO_ID_PREFIX)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE ss_lbw AS
    SELECT first.*, n, starts_with(state, '{NO_ID_PREFIX}') AS no_id FROM (
      SELECT arg_min(struct_pack(ts, source, session_id, seq, direction, filename, prev, game_id, idx),
                     (ts, session_id, seq, idx)) AS first, count(*) FILTER (NOT prev) AS n, state
      FROM (SELECT ts, source, session_id, seq, direction, filename, prev, v[1] AS game_id, unnest(lb) AS state,
                   unnest(range(len(lb))) AS idx
            FROM stage WHERE event_name = 'gameStateUpdate')
      GROUP BY state, game_id
    )
    """)
    # an entry without a player id fails LeaderboardEntry: counted, then left out
    lb_in, no_id = con.execute("SELECT coalesce(sum(n), 0), coalesce(sum(n) FILTER (no_id), 0) FROM ss_lbw"
                               ).fetchall()[0]
    failures += no_id
    con.execute("DELETE FROM ss_lbw WHERE no_id")
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE ss_c AS
    WITH lbe AS (
      SELECT w.ts, w.source, w.session_id, w.seq, w.direction, w.prev, 'gameStateUpdate' AS event_name, w.game_id,
             json_extract(r.raw_json, '$[#-1].leaderboard[' || w.idx || ']') AS entry
      FROM ss_lbw w JOIN {raw} r ON r.session_id = w.session_id AND r.seq = w.seq AND r.filename = w.filename
      WHERE r.event_name = 'gameStateUpdate'
    ), lbv AS (
      SELECT *, json_extract_string(entry, {_p('$', _ENTRY)}) AS v FROM lbe
    ), gspu AS (
      SELECT r.ts, r.source, r.session_id, r.seq, r.direction, r.prev, r.event_name,
             json_extract_string(r.raw_json, '$[#-1].gameId') AS game_id,
             json_extract(r.raw_json, '$[#-1].leaderboardEntry') AS entry
      FROM {small} r ANTI JOIN ss_bad b ON b.session_id = r.session_id AND b.seq = r.seq
      WHERE r.event_name = 'gameStatePlayerUpdate'
    ), gspuv AS (
      SELECT *, json_extract_string(entry, {_p('$', _ENTRY)}) AS v FROM gspu WHERE entry IS NOT NULL
    ), pu AS (
      SELECT r.ts, r.source, r.session_id, r.seq, r.direction, r.prev, r.event_name, r.raw_json, r.username,
             r.v
      FROM {small} r ANTI JOIN ss_bad b ON b.session_id = r.session_id AND b.seq = r.seq
      WHERE r.event_name = 'playerUpdate'
    ), rows AS (
      SELECT ts, source, session_id, seq, direction, prev, event_name, game_id, v[1] AS player_id, v[2] AS username,
             entry::VARCHAR AS raw_json, 'leaderboard' AS state_source, NULL::{DEC_SQL} AS cash, {_entry_cols('v')}
      FROM lbv
      UNION ALL
      SELECT ts, source, session_id, seq, direction, prev, event_name, game_id, v[1], v[2],
             entry::VARCHAR, 'gameStatePlayerUpdate', NULL::{DEC_SQL}, {_entry_cols('v')}
      FROM gspuv
      UNION ALL
      SELECT ts, source, session_id, seq, direction, prev, event_name, NULL, v[1], username, raw_json, 'playerUpdate',
             {dec('v[2]', DEC_SQL)}, {dec('v[3]', DEC_SQL)}, {dec('v[4]', DEC_SQL)}, {dec('v[5]', DEC_SQL)},
             {dec('v[6]', DEC_SQL)}, {dec('v[7]', DEC_SQL)}, {dec('v[8]', DEC_SQL)}, NULL::BOOLEAN, NULL::BIGINT,
             TRY_CAST(v[9] AS BIGINT)
      FROM pu
    )
    SELECT *, CASE WHEN state_source = 'playerUpdate' THEN {_state_key([*_POS, 'pnl', 'pnl_percent'])}
                   ELSE {_state_key(_POS)} END AS state_key
    FROM rows
    """)
    (other_in,) = con.execute("SELECT count(*) FROM ss_c WHERE state_source <> 'leaderboard' AND NOT prev"
                              ).fetchall()[0]
    rows_in = lb_in + other_in
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE ss_w AS
    SELECT {envelope('server_state')}, raw_json, event_name, state_source, state_key, cash, position_qty,
           avg_cost, total_invested, pnl, pnl_percent, sidebet_pnl, has_active_trades, rank, level, prev
    FROM ss_c
    QUALIFY row_number() OVER (PARTITION BY state_source, player_id, game_id, state_key
                               ORDER BY ts, session_id, seq) = 1
    """)
    con.execute("DROP TABLE ss_c")
    con.execute("DELETE FROM ss_w WHERE prev")  # first seen in the previous date's tail: that date's row
    (rows_out,) = con.execute("SELECT count(*) FROM ss_w").fetchall()[0]
    final = "SELECT * EXCLUDE (prev) FROM ss_w ORDER BY ts, session_id, seq"
    rows_in += failures - no_id  # rows failing validation never reached ss_c; no-id entries are in lb_in
    stats = {"rows_in": rows_in, "model_failures": failures, "rows_out": rows_out,
             "duplicates_dropped": rows_in - failures - rows_out}
    return stats, final
