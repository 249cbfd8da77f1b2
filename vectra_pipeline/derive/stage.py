"""One pass over a date's raw ws_event rows that every raw-derived table reads from.

Parsing ~4 GB of JSON is the expensive part of a day, so it happens once: the `stage` temp table keeps,
per typed-event row, the envelope, the scalar fields its table needs (as JSON text, so numbers stay
exact), gameStateUpdate leaderboards as lists of position-state keys (one string per entry), a gameHistory
flag and ids, and the raw_json of the low-volume events. Tables that must keep a gameStateUpdate's
raw_json (or a leaderboard entry's) join back to raw by (session_id, seq).
"""

from __future__ import annotations

import duckdb

from vectra_pipeline.duck import PAYLOAD_PATH

# gameStateUpdate: scalars for game_tick (v[1..9]), a gameHistory flag (v[10]: its first entry's id), and
# the leaderboard's position-state keys (`lb`), all from one json_transform of the frame; the gameHistory
# ids of the rows carrying one go in `history_ids`
GSU_FIELDS = ["gameId", "tickCount", "price", "active", "rugged", "cooldownTimer", "allowPreRoundBuys",
              "tradeCount", "connectedPlayers"]
LEGACY_TICK_FIELDS = [".game_id", ".tick", ".price", ".active", ".rugged", ".cooldown_timer", ".phase", ".trade_count"]
ACTION_FIELDS = [".id", ".gameId", ".playerId", ".username", ".type", ".tickIndex", ".price", ".amount", ".qty",
                 ".coin", ".leverage", ".bonusPortion", ".realPortion", ".xPayout", ".payout", ".profit", ".level",
                 ".betAmount", ".percentage"]
PLAYER_FIELDS = [".id", ".cash", ".positionQty", ".avgCost", ".totalInvested", ".cumulativePnL", ".pnlPercent",
                 ".sidebetPnl", ".levelInfo.level"]
ENTRY_FIELDS = ["id", "username", "positionQty", "avgCost", "totalInvested", "pnl", "pnlPercent", "sidebetPnl",
                "hasActiveTrades", "position", "level"]
# A leaderboard entry's position state (server_state's key with the game id); the other fields of the
# few winning entries are read from their JSON later.
STATE_FIELDS = ["id", "positionQty", "avgCost", "totalInvested", "hasActiveTrades", "sidebetPnl"]
ACTION_EVENTS = ("standard/newTrade", "newSideBet", "currentSidebet", "currentSidebetResult",
                 "buyOrder", "sellOrder", "requestSidebet")
# acks (`__ack__`) pair the player's own requests with their outcome (ack_id + socket_id)
SMALL_EVENTS = (*ACTION_EVENTS, "playerUpdate", "gameStatePlayerUpdate", "__ack__")
# The low-volume rows with their raw_json; explicit columns so the leaderboard column is never read.
SMALL_ROWS = ("(SELECT ts, source, session_id, seq, direction, event_name, game_id, player_id, username, ack_id, "
              "socket_id, v, prev, small_raw AS raw_json FROM stage WHERE small_raw IS NOT NULL)")
_LB_STRUCT = "[{" + ", ".join(f'"{k}": "VARCHAR"' for k in STATE_FIELDS) + "}]"
# The frame (`[name?, trace?, payload]`) parsed once into the typed fields it needs: every value as its
# JSON text (a string unquoted, a number as json_extract_string prints it), the other keys skipped.
# Extracting the leaderboard as JSON text and transforming that parsed it a second time.
GSU_STRUCT = ("[{" + ", ".join(f'"{k}": "VARCHAR"' for k in GSU_FIELDS)
              + f', "gameHistory": [{{"id": "VARCHAR"}}], "leaderboard": {_LB_STRUCT}' + "}]")
# One string per entry instead of a struct of strings: a day's leaderboards (~5 M entries) then fit in
# memory without spilling. Each field length-prefixed (`<length>:<text>`, a NULL field just ':'), so two
# different states never share a key; an entry without an id starts with ':'. One concat, no casts or
# coalesces: this runs for every leaderboard entry of the day.
STATE_KEY = "concat(" + ", ',', ".join(f"length(e.{k}), ':', e.{k}" for k in STATE_FIELDS) + ")"
NO_ID_PREFIX = ":"


def paths_sql(prefix: str, keys: list[str]) -> str:
    return "[" + ", ".join(f"'{prefix}{k}'" for k in keys) + "]"


def _in(events: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{e}'" for e in events) + ")"


# Keys are unique across dates: a key first seen in the previous date's last minutes (a game or a
# feed's copy crossing midnight) belongs to that date. Longer than the longest game.
TAIL = "INTERVAL 30 MINUTE"


def with_tail(raw: str, prev_raw: str, date: str) -> str:
    """`raw` plus the previous date's last TAIL of rows, flagged `prev` (read, never written)."""
    return (f"(SELECT *, false AS prev FROM {raw} UNION ALL BY NAME SELECT *, true AS prev FROM {prev_raw} "
            f"WHERE ts >= TIMESTAMPTZ '{date} 00:00:00+00' - {TAIL})")


def build_stage(con: duckdb.DuckDBPyConnection, raw: str) -> int:
    gsu = ", ".join(f"g.{k}" for k in GSU_FIELDS)
    con.execute(f"""
    CREATE OR REPLACE TEMP TABLE stage AS
    SELECT ts, source, session_id, seq, direction, event_name, game_id, player_id, username, ack_id, socket_id,
           filename, prev,
           CASE WHEN event_name = 'gameStateUpdate' THEN [{gsu}, g.gameHistory[1].id] ELSE v END AS v,
           CASE WHEN event_name = 'gameStateUpdate'
                THEN list_transform(g.leaderboard, lambda e: {STATE_KEY}) END AS lb,
           -- the ids of a gameHistory (complete_game): parsed here, on the few rows that carry one, so
           -- complete_game never reads raw again to find them
           CASE WHEN event_name = 'gameStateUpdate' AND NOT prev AND g.gameHistory[1].id IS NOT NULL
                THEN json_extract_string(raw_json, '$[#-1].gameHistory[*].id') END AS history_ids,
           small_raw
    FROM (
      SELECT ts, source, session_id, seq, direction, event_name, game_id, player_id, username, ack_id, socket_id,
             filename, prev, raw_json,
             CASE WHEN event_name = 'gameStateUpdate'
                  THEN json_transform(raw_json, '{GSU_STRUCT}')[-1] END AS g,
             CASE WHEN event_name = 'legacy.tick'
                      THEN json_extract_string(raw_json, {paths_sql('$', LEGACY_TICK_FIELDS)})
                  WHEN event_name IN {_in(ACTION_EVENTS)}
                      THEN json_extract_string(raw_json, {paths_sql(PAYLOAD_PATH, ACTION_FIELDS)})
                  WHEN event_name = 'playerUpdate'
                      THEN json_extract_string(raw_json, {paths_sql(PAYLOAD_PATH, PLAYER_FIELDS)}) END AS v,
             CASE WHEN event_name IN {_in(SMALL_EVENTS)} THEN raw_json END AS small_raw
      FROM {raw}
      WHERE event_name IN {_in(('gameStateUpdate', 'legacy.tick', *SMALL_EVENTS))}
    )
    """)
    # Overlapping raw files can hold one (session_id, seq) twice: keep one copy (its file is what the
    # join back to raw matches on). The rebuild only runs when there is a duplicate.
    rows, distinct = con.execute("SELECT count(*), count(DISTINCT (session_id, seq, prev)) FROM stage").fetchall()[0]
    if rows != distinct:
        con.execute("""CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM stage
                       QUALIFY row_number() OVER (PARTITION BY session_id, seq, prev ORDER BY filename) = 1""")
    return rows - distinct


def ensure_stage(con: duckdb.DuckDBPyConnection, raw: str, tag: str) -> None:
    """Build the stage unless this connection already holds it for `tag` (data root, date, guard):
    the tables of one date share one parse."""
    try:
        held = con.execute("SELECT tag FROM stage_tag").fetchall()
    except duckdb.CatalogException:
        held = []
    if held and held[0][0] == tag:
        return
    con.execute("DROP TABLE IF EXISTS stage_tag")
    dups = build_stage(con, raw)
    con.execute("CREATE TEMP TABLE stage_tag AS SELECT ? AS tag, ? AS raw_duplicates", [tag, dups])


def raw_duplicates(con: duckdb.DuckDBPyConnection) -> int:
    """Raw rows of the staged date dropped as copies of an earlier (session_id, seq)."""
    return int(con.execute("SELECT raw_duplicates FROM stage_tag").fetchall()[0][0])
