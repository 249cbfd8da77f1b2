"""The daemon's view of the game right now, exactly as the server last stated it.

Values are kept as the server sent them (no arithmetic), so `vectra status` shows the
server's truth for the game and, with a logged-in feed (the browser capture), for the player:
`player` = {id, username, cash, position_qty, avg_cost, pnl, pnl_percent, updated_at, stale},
its numbers the JSON text of the frame (never through float), stale once the socket that
carried it closes or the feed is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# live.player key -> playerUpdate field
PLAYER_FIELDS = {"cash": "cash", "position_qty": "positionQty", "avg_cost": "avgCost", "pnl": "cumulativePnL",
                 "pnl_percent": "pnlPercent"}


def phase_of(state: dict[str, Any]) -> str:
    """docs/protocol.md phase rule: rugged first, then active, then pre-round buys / cooldown."""
    if state.get("rugged"):
        return "rugged"
    if state.get("active"):
        return "active"
    if state.get("allowPreRoundBuys"):
        return "presale"
    if state.get("cooldownTimer"):
        return "cooldown"
    return "unknown"


def exact_payload(json_text: str) -> Any:
    """The last argument of an event array with every number as its JSON text."""
    args = json.loads(json_text, parse_float=str, parse_int=str)
    return args[-1] if isinstance(args, list) and len(args) > 1 else None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


@dataclass
class LiveState:
    game_id: str | None = None
    phase: str | None = None
    tick: int | None = None
    price: float | int | None = None
    cooldown_timer: int | None = None
    connected_players: int | None = None
    game_updated_at: float | None = None  # wall clock of the last gameStateUpdate
    player: dict[str, Any] = field(default_factory=dict)
    player_socket: str | None = field(default=None, repr=False)

    def observe(self, event_name: str, payload: Any, now: float, json_text: str | None = None,
                socket_id: str | None = None) -> None:
        if not isinstance(payload, dict):
            return
        if event_name == "gameStateUpdate":
            self.game_id = payload.get("gameId", self.game_id)
            self.phase = phase_of(payload)
            self.tick = payload.get("tickCount")
            self.price = payload.get("price")
            self.cooldown_timer = payload.get("cooldownTimer")
            self.connected_players = payload.get("connectedPlayers", self.connected_players)
            self.game_updated_at = now
        elif event_name in ("playerUpdate", "usernameStatus"):
            exact = exact_payload(json_text) if json_text is not None else payload
            if isinstance(exact, dict):
                self._player(event_name, exact, now, socket_id)

    def _player(self, event_name: str, payload: dict[str, Any], now: float, socket_id: str | None) -> None:
        pid = payload.get("id")
        if self.player.get("id") not in (None, pid):  # another player (another tab logged in elsewhere)
            self.player = {}
        # copy on write: the writer thread reads `player` for the status file at any moment
        player = dict(self.player) or {"id": None, "username": None, **dict.fromkeys(PLAYER_FIELDS)}
        player["id"] = pid if isinstance(pid, str) else player["id"]
        if event_name == "usernameStatus":
            player["username"] = _text(payload.get("username"))
        else:
            player.update({key: _text(payload.get(wire)) for key, wire in PLAYER_FIELDS.items()})
            if isinstance(payload.get("username"), str):
                player["username"] = payload["username"]
        player["updated_at"] = datetime.fromtimestamp(now, tz=UTC).isoformat()
        player["stale"] = False
        self.player = player
        self.player_socket = socket_id

    def mark_stale(self, socket_id: str | None = None) -> None:
        """The feed that stated the player's state is gone (that socket, or every socket when None)."""
        if self.player and (socket_id is None or socket_id == self.player_socket):
            self.player = {**self.player, "stale": True}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("player_socket")
        out["player"] = dict(self.player)
        return out
