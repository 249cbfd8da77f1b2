"""Arrow schemas and natural keys of the typed tables (the contract the manifest records)."""

from __future__ import annotations

import pyarrow as pa

from vectra_capture.store.envelope import ENVELOPE_FIELDS

# 24 decimals, not 18: real rug prices carry 19 (0.0074962956398157985 in the fixtures), and a
# double printed shortest-roundtrip can need ~24 below 1e-5. 14 integer digits is plenty for SOL.
DEC_PRECISION, DEC_SCALE = 38, 24
DEC = pa.decimal128(DEC_PRECISION, DEC_SCALE)
DEC_SQL = f"DECIMAL({DEC_PRECISION},{DEC_SCALE})"


def _schema(*fields: pa.Field) -> pa.Schema:
    return pa.schema([*ENVELOPE_FIELDS, pa.field("event_name", pa.string()), *fields])


GAME_TICK = _schema(
    pa.field("phase", pa.string(), nullable=False),
    pa.field("tick", pa.int64()),
    pa.field("price", DEC),
    pa.field("active", pa.bool_(), nullable=False),
    pa.field("rugged", pa.bool_(), nullable=False),
    pa.field("cooldown_timer", pa.int64()),
    pa.field("allow_pre_round_buys", pa.bool_()),
    pa.field("trade_count", pa.int64()),
    pa.field("connected_players", pa.int64()),
    pa.field("legacy_phase", pa.string()),
)

PLAYER_ACTION = _schema(
    pa.field("action_kind", pa.string(), nullable=False),  # trade | sidebet | order
    pa.field("action_id", pa.string(), nullable=False),
    pa.field("action_type", pa.string()),  # buy/sell/short_open/short_close, placed/payout, BUY/SELL/PARTIAL_SELL/SIDEBET
    pa.field("tick", pa.int64()),
    pa.field("price", DEC),
    pa.field("amount", DEC),
    pa.field("qty", DEC),
    pa.field("coin", pa.string()),
    pa.field("leverage", DEC),
    pa.field("bonus_portion", DEC),
    pa.field("real_portion", DEC),
    pa.field("x_payout", DEC),
    pa.field("payout", DEC),
    pa.field("profit", DEC),
    pa.field("level", pa.int64()),
    # the player's own requests (action_kind 'order', direction 'sent') [schema v3]
    pa.field("percentage", DEC),  # sellOrder
    pa.field("ack_id", pa.int64()),
    pa.field("socket_id", pa.string()),
    pa.field("ack_ts", pa.timestamp("us", tz="UTC")),  # the server's ack: when, what, success flag
    pa.field("ack_json", pa.string()),
    pa.field("ack_success", pa.bool_()),
)

SERVER_STATE = _schema(
    pa.field("state_source", pa.string(), nullable=False),  # playerUpdate | leaderboard | gameStatePlayerUpdate
    pa.field("state_key", pa.string(), nullable=False),
    pa.field("cash", DEC),
    pa.field("position_qty", DEC),
    pa.field("avg_cost", DEC),
    pa.field("total_invested", DEC),
    pa.field("pnl", DEC),
    pa.field("pnl_percent", DEC),
    pa.field("sidebet_pnl", DEC),
    pa.field("has_active_trades", pa.bool_()),
    pa.field("rank", pa.int64()),
    pa.field("level", pa.int64()),
)

COMPLETE_GAME = _schema(
    pa.field("history_timestamp", pa.int64()),
    pa.field("peak_multiplier", DEC),
    pa.field("rugged", pa.bool_()),
    pa.field("server_seed", pa.string()),
    pa.field("server_seed_hash", pa.string()),
    pa.field("seed_verified", pa.bool_(), nullable=False),
    pa.field("game_version", pa.string()),
    pa.field("tick_count", pa.int64()),
    pa.field("rug_price", DEC),
    pa.field("prices", pa.list_(DEC)),
    pa.field("global_trades", pa.int64()),
    pa.field("global_sidebets", pa.int64()),
)

GAMES = _schema(
    pa.field("first_seen", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("last_seen", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("ticks", pa.int64(), nullable=False),
    pa.field("max_tick", pa.int64()),
    pa.field("peak", DEC),
    pa.field("rug_tick", pa.int64()),
    pa.field("rug_price", DEC),
    pa.field("trade_count", pa.int64(), nullable=False),
    pa.field("sources", pa.list_(pa.string())),
    pa.field("completed", pa.bool_(), nullable=False),
    pa.field("seed_verified", pa.bool_()),
)

TYPED_SCHEMAS: dict[str, pa.Schema] = {
    "game_tick": GAME_TICK,
    "server_state": SERVER_STATE,
    "player_action": PLAYER_ACTION,
    "complete_game": COMPLETE_GAME,
    "games": GAMES,
}

# Natural keys: the feed repeats states and two capture sessions see the same events, so each table
# keeps one row per key, across all dates.
KEYS: dict[str, tuple[str, ...]] = {
    "game_tick": ("game_id", "tick", "cooldown_timer", "rugged"),
    "server_state": ("state_source", "player_id", "game_id", "state_key"),
    "player_action": ("action_kind", "action_id"),
    "complete_game": ("game_id",),
    "games": ("game_id",),
}
