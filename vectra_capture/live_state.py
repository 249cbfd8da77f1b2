"""The daemon's view of the game right now, exactly as the server last stated it.

Values are kept as the server sent them (no arithmetic), so `vectra status` shows the
server's truth for the game and, with a logged-in feed, for the player.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

PLAYER_FIELDS = ("cash", "positionQty", "avgCost", "cumulativePnL", "pnlPercent", "totalInvested", "sidebetPnl")


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
    player_updated_at: float | None = None

    def observe(self, event_name: str, payload: Any, now: float) -> None:
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
        elif event_name == "playerUpdate":
            self.player = {"id": payload.get("id"), **{k: payload.get(k) for k in PLAYER_FIELDS}}
            self.player_updated_at = now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
