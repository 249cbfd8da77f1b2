"""The capture daemon right now: its status file (vectra_capture.status) plus the newest frame the spool
tail has read. Values of the game and the player are shown exactly as the server sent them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from vectra_capture.live_state import PLAYER_FIELDS
from vectra_capture.status import read_status
from vectra_pipeline.service.context import Context


class LiveGame(BaseModel):
    game_id: str | None
    phase: str | None
    tick: int | None
    price: Any  # as the server sent it
    cooldown_timer: int | None
    connected_players: int | None
    updated_at: datetime | None
    age_seconds: float | None


class PlayerState(BaseModel):
    """The server's truth for the logged-in player (playerUpdate), values as sent."""

    id: str | None
    values: dict[str, Any]
    updated_at: datetime | None
    age_seconds: float | None


class LiveStatus(BaseModel):
    running: bool
    connected: bool
    state: str
    source: str | None = None
    url: str | None = None
    session_id: str | None = None
    started_at: str | None = None
    connected_since: str | None = None
    reconnects: int = 0
    received: int = 0
    written: int = 0
    quarantined: int = 0
    system_events: int = 0
    in_parquet: int = 0
    spool_depth: int = 0
    lag_seconds: float | None = None
    status_age_seconds: float | None = None
    stale: bool = True
    last_frame_at: datetime | None = None
    last_frame_age_seconds: float | None = None
    last_frame_event: str | None = None
    game: LiveGame | None = None
    player: PlayerState | None = None  # None: no logged-in session captured


def _at(wall: float | None) -> tuple[datetime | None, float | None]:
    if wall is None:
        return None, None
    return datetime.fromtimestamp(wall, UTC), round(max(0.0, time.time() - wall), 1)


def live(ctx: Context) -> LiveStatus:
    st = read_status(ctx.paths)
    ctx.tail.poll()
    last = ctx.tail.last_frame
    out = LiveStatus(
        running=bool(st.get("running")), connected=st.get("state") == "connected" and not st.get("stale", True),
        state=str(st.get("state")), **{k: st[k] for k in (
            "source", "url", "session_id", "started_at", "connected_since", "reconnects", "received", "written",
            "quarantined", "system_events", "in_parquet", "spool_depth", "lag_seconds", "status_age_seconds", "stale",
        ) if st.get(k) is not None})
    if last is not None:
        out.last_frame_at = last.ts
        out.last_frame_age_seconds = round(max(0.0, time.time() - last.ts.timestamp()), 1)
        out.last_frame_event = last.event_name
    state = st.get("live") or {}
    if state.get("game_id"):
        at, age = _at(state.get("game_updated_at"))
        out.game = LiveGame(game_id=state["game_id"], phase=state.get("phase"), tick=state.get("tick"),
                            price=state.get("price"), cooldown_timer=state.get("cooldown_timer"),
                            connected_players=state.get("connected_players"), updated_at=at, age_seconds=age)
    player = state.get("player") or {}
    if player:
        at, age = _at(state.get("player_updated_at"))
        out.player = PlayerState(id=player.get("id"), values=_exact_player(ctx, st.get("session_id")) or
                                 {k: v for k, v in player.items() if k != "id"}, updated_at=at, age_seconds=age)
    return out


def _exact_player(ctx: Context, session_id: str | None) -> dict[str, str] | None:
    """The player's values as the text the server sent (the status file went through floats): from the
    newest playerUpdate frame of the daemon's session the tail has read, if any."""
    frame = ctx.tail.latest("playerUpdate")
    if frame is None or frame.session_id != session_id or frame.payload is None:
        return None
    try:
        payload = json.loads(frame.payload, parse_float=str, parse_int=str)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    return {k: payload.get(k) for k in PLAYER_FIELDS}
