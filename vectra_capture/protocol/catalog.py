"""What docs/protocol.md knows about each event name, and how sure we are (protocol_verification.json).

The static part is written down once here from docs/protocol.md; the default verification status comes from
its tags ([data] -> verified, [docs]/[guess] -> unverified). A person can override a status with
`vectra protocol verify`, which lands in manifests/protocol_verification.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from vectra_capture.store import read_manifest, write_manifest
from vectra_capture.store.layout import DataPaths

MANIFEST = "protocol_verification"
Status = Literal["verified", "unverified", "needs-correction"]
STATUSES: tuple[str, ...] = ("verified", "unverified", "needs-correction")


class EventInfo(BaseModel):
    name: str
    direction: Literal["received", "sent", "internal"]
    needs_login: bool
    meaning: str
    facts: list[str] = Field(default_factory=list)
    source_tag: Literal["data", "docs", "guess"]
    traced: bool | None = None  # does it arrive with the {"__trace": true} argument before the payload

    @property
    def default_status(self) -> Status:
        return "verified" if self.source_tag == "data" else "unverified"


def _event(name: str, direction: str, login: bool, tag: str, meaning: str, *facts: str, traced: bool | None = None) -> EventInfo:
    return EventInfo(name=name, direction=direction, needs_login=login, source_tag=tag, meaning=meaning,
                     facts=list(facts), traced=traced)


_EVENTS: list[EventInfo] = [
    _event("gameStateUpdate", "received", False, "data",
       "The game's heartbeat: one broadcast per 250 ms tick while a game runs and one per 100 ms during the "
       "15 s cooldown and presale. Carries price, tick, phase flags, the top-10 leaderboard and provably-fair hash.",
       "Always present: gameId (YYYYMMDD-<16 hex>, date part is UTC), cooldownTimer (ms), cooldownPaused, "
       "allowPreRoundBuys, connectedPlayers, leaderboard (up to 10 entries), provablyFair {serverSeedHash, version}.",
       "Cooldown ticks carry only those keys: active, price, rugged, tickCount are absent, not false or 0.",
       "In play: active, rugged, price (float, sometimes int 1), tickCount, tradeCount, pauseMessage, "
       "partialPrices {startTick, endTick, values} (rolling 5-tick window), averageMultiplier, count2x/10x/50x/100x, "
       "rugpool, rugRoyale.",
       "Transition payloads (rug, new game, first message after connecting) add gameHistory[] with the last 10 "
       "games, god-candle fields and highestToday fields; gameHistory entries reveal serverSeed.",
       "Phase rule: check rugged first, then active, then allowPreRoundBuys / cooldownTimer.",
       "Natural key for duplicates: (gameId, tickCount, cooldownTimer, rugged). Not traced.",
       traced=False),
    _event("standard/newTrade", "received", False, "data",
       "A trade by any player in the current game: buy, sell, short_open or short_close.",
       "Fields: id (uuid), gameId, playerId, username (nullable), level, price, type (buy, sell, short_open, "
       "short_close, lower case), tickIndex, coin, amount; sometimes qty, leverage, bonusPortion, realPortion.",
       "No server timestamp. Arrives traced (three-element form): the payload is the last argument.",
       "At the rug, forced sells appear as type sell at the rug price. Natural key: id.",
       traced=True),
    _event("newChatMessage", "received", False, "data",
       "A chat message posted in the public game chat.",
       "Fields seen: playerId, username, level, message, timestamp (ms), filtered, role, tag, verified, replyTo.",
       "Arrives traced; some forms carry the payload as a JSON array.", traced=True),
    _event("rugRoyaleUpdate", "received", False, "data",
       "Schedule and state of Rug Royale tournament events.",
       "Fields seen: status, activeEventId, currentEvent {id, startTime, endTime, prepTimeMinutes}, "
       "upcomingEvents, events[]."),
    _event("battleEventUpdate", "received", False, "data",
       "State of battle events (lobbies, queue, leaderboard of a practice-token battle).",
       "Fields seen: status, startTime, endTime, currentEvent, nextEvent, leaderboard, participantCount, "
       "queue, eventSchedule, config.", traced=True),
    _event("goldenHourUpdate", "received", False, "docs",
       "Golden hour promotion state; documented as public but not checked against data."),
    _event("newSideBet", "received", False, "docs",
       "A side bet placed by any player; documented as public but not checked against data."),
    _event("gameNotification", "received", False, "guess",
       "A notification shown in the game UI; its payload is a JSON array rather than an object."),
    _event("usernameStatus", "received", True, "data",
       "The logged-in player's username status, sent after authentication.",
       "Arrives traced: systems that kept the first argument lost 100% of usernameStatus.", traced=True),
    _event("playerLeaderboardPosition", "received", True, "docs",
       "The logged-in player's own leaderboard rank."),
    _event("playerUpdate", "received", True, "data",
       "The server's truth for the logged-in player's balance, position and PnL; needs a logged-in session.",
       "Fields: id, cash, positionQty, avgCost, cumulativePnL, pnlPercent, totalInvested, sidebetPnl, "
       "bonusBalance, hasInteracted, selectedCoin, levelInfo, sideBet, sidebets[], shortPosition, "
       "leveragedPositions[], and more. No gameId. Not traced.", traced=False),
    _event("gameStatePlayerUpdate", "received", True, "data",
       "Per-player game state for the logged-in player: leaderboard entry, rugpool and own trades.",
       "Shape: {gameId, leaderboardEntry?, rugpool?, trades[]?}. Not traced.", traced=False),
    _event("currentSidebet", "received", True, "data",
       "The logged-in player's side bet was placed.",
       "type placed, betAmount, xPayout (5), startTick, endTick = startTick + 40, tickIndex."),
    _event("currentSidebetResult", "received", True, "data",
       "The result of the logged-in player's side bet.",
       "type payout, betAmount, xPayout, startTick, endTick, payout, profit."),
    _event("__ack__", "received", True, "docs",
       "The server's acknowledgement of one of our own requests (Socket.IO ack, frame 43<id>[...]).",
       "raw_json holds the ack's argument array."),
    _event("buyOrder", "sent", True, "docs", "Client request to buy into the current game.", "Payload {amount}."),
    _event("sellOrder", "sent", True, "docs", "Client request to sell part of the position.", "Payload {percentage}."),
    _event("requestSidebet", "sent", True, "docs", "Client request to place a side bet.",
       "Payload {amount, coinAddress, xPayout}."),
    _event("authenticate", "sent", True, "docs", "Client authentication request for a logged-in session."),
    _event("chatHistory", "sent", False, "docs", "Client request for recent chat messages."),
    _event("getLeaderboard", "sent", False, "docs", "Client request for the leaderboard."),
    _event("ping", "sent", False, "docs",
       "Application-level keepalive the web client emits about every 30 s with {lastPing: ms} "
       "(separate from Engine.IO ping/pong every ~25 s)."),
    _event("legacy.tick", "internal", False, "data",
       "One tick record from the legacy per-game recordings: game_id, tick, price, phase, active, rugged, "
       "cooldown_timer, trade_count.",
       "Cooldown and presale records are placeholders (tick 0, price 1.0) and never tick 0 of play.",
       "timestamp is naive America/New_York time; stored ts is converted to UTC."),
    _event("legacy.game_start", "internal", False, "data", "Start of a game in the legacy recordings.",
       "Fields: game_id, optional session_game_number."),
    _event("legacy.game_end", "internal", False, "data", "End of a game in the legacy recordings.",
       "Fields: total_ticks (counts records, not game length), tick_range, price_range, peak_price, "
       "final_price, optional status, incomplete_reason, discard_reason."),
    _event("legacy.session_start", "internal", False, "data", "Start of a legacy recording session."),
    _event("legacy.game_complete", "internal", False, "data", "A game completed inside a legacy session file."),
    _event("legacy.session_end", "internal", False, "data", "End of a legacy recording session."),
    _event("legacy.metadata", "internal", False, "data", "A _metadata line of the old legacy header format."),
]

CATALOG: dict[str, EventInfo] = {e.name: e for e in _EVENTS}


class Verification(BaseModel):
    status: Status
    note: str | None = None
    updated_at: str | None = None


def read_verifications(paths: DataPaths) -> dict[str, Verification]:
    data = read_manifest(paths, MANIFEST) or {}
    return {name: Verification.model_validate(v) for name, v in data.get("events", {}).items()}


def status_of(paths: DataPaths, name: str) -> Verification:
    """The manifest's status if someone set one, else the default from docs/protocol.md's tag."""
    found = read_verifications(paths).get(name)
    if found is not None:
        return found
    info = CATALOG.get(name)
    return Verification(status=info.default_status if info else "unverified")


def set_status(paths: DataPaths, name: str, status: Status, note: str | None = None) -> Verification:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    current = read_manifest(paths, MANIFEST) or {}
    events = dict(current.get("events", {}))
    entry = Verification(status=status, note=note, updated_at=datetime.now(UTC).isoformat(timespec="seconds"))
    events[name] = entry.model_dump()
    write_manifest(paths, MANIFEST, {"version": 1, "events": dict(sorted(events.items()))})
    return entry


def describe(paths: DataPaths, name: str) -> dict:
    """Catalog entry plus current verification, as plain data (CLI --json, vector documents)."""
    info = CATALOG.get(name)
    ver = status_of(paths, name)
    base = info.model_dump() if info else {"name": name, "direction": None, "needs_login": None,
                                           "meaning": None, "facts": [], "source_tag": None, "traced": None}
    return {**base, "known": info is not None, "verification": ver.model_dump()}
