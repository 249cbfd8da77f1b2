"""Pydantic v2 models of every event in docs/protocol.md, for validation at the boundary.

Field names are the wire's own (camelCase) so a model's fields are exactly the keys it knows; the
schema-drift check compares payload keys against them. Money, prices and multipliers are Decimal
(parse JSON with `json.loads(text, parse_float=Decimal)` to keep them exact). Every model keeps
unknown fields (`extra="allow"`): field drift is real and must never reject a payload. Fields real
payloads omit (cooldown ticks carry no price/tickCount) are optional.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel, ValidationError


class Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- gameStateUpdate parts -------------------------------------------------------------------
class ProvablyFair(Wire):
    serverSeedHash: str | None = None
    serverSeed: str | None = None
    version: str | None = None


class PartialPrices(Wire):
    startTick: int
    endTick: int
    values: dict[str, Decimal]


class Rugpool(Wire):
    instarugCount: int | None = None
    threshold: int | None = None
    rugpoolAmount: Decimal | None = None
    totalEntries: int | None = None
    playersWithEntries: int | None = None
    solPerEntry: Decimal | None = None
    maxEntriesPerPlayer: int | None = None
    playerEntries: list[dict[str, Any]] | None = None
    lastDrawing: dict[str, Any] | None = None


class LeaderboardEntry(Wire):
    id: str
    username: str | None = None
    level: int | None = None
    pnl: Decimal | None = None
    regularPnl: Decimal | None = None
    sidebetPnl: Decimal | None = None
    shortPnl: Decimal | None = None
    pnlPercent: Decimal | None = None
    hasActiveTrades: bool | None = None
    positionQty: Decimal | None = None
    avgCost: Decimal | None = None
    totalInvested: Decimal | None = None
    position: int | None = None
    selectedCoin: dict[str, Any] | None = None
    sidebetActive: bool | None = None
    sideBet: dict[str, Any] | None = None
    shortPosition: dict[str, Any] | None = None


class GameHistoryEntry(Wire):
    id: str
    timestamp: int | None = None
    peakMultiplier: Decimal | None = None
    rugged: bool | None = None
    provablyFair: ProvablyFair | None = None
    prices: list[Decimal] = []
    globalTrades: list[dict[str, Any]] | None = None
    globalSidebets: list[dict[str, Any]] | None = None
    gameVersion: str | None = None


class GameStateUpdate(Wire):
    gameId: str
    cooldownTimer: int | None = None
    cooldownPaused: bool | None = None
    allowPreRoundBuys: bool | None = None
    connectedPlayers: int | None = None
    leaderboard: list[LeaderboardEntry] = []
    provablyFair: ProvablyFair | None = None
    gameVersion: str | None = None
    # present only in play
    active: bool | None = None
    rugged: bool | None = None
    price: Decimal | None = None
    tickCount: int | None = None
    tradeCount: int | None = None
    pauseMessage: str | None = None
    partialPrices: PartialPrices | None = None
    averageMultiplier: Decimal | None = None
    count2x: int | None = None
    count10x: int | None = None
    count50x: int | None = None
    count100x: int | None = None
    rugpool: Rugpool | None = None
    rugRoyale: dict[str, Any] | None = None
    # transition payloads
    gameHistory: list[GameHistoryEntry] | None = None
    prices: list[Decimal] | None = None
    availableShitcoins: list[Any] | None = None
    highestToday: Decimal | None = None
    highestTodayTimestamp: int | None = None
    highestTodayPrices: list[Decimal] | None = None
    godCandle2x: Decimal | None = None
    godCandle2xTimestamp: int | None = None
    godCandle2xPrices: list[Decimal] | None = None
    godCandle2xMassiveJump: Any = None
    godCandle10x: Decimal | None = None
    godCandle10xTimestamp: int | None = None
    godCandle10xPrices: list[Decimal] | None = None
    godCandle10xMassiveJump: Any = None
    godCandle50x: Decimal | None = None
    godCandle50xTimestamp: int | None = None
    godCandle50xPrices: list[Decimal] | None = None
    godCandle50xMassiveJump: Any = None


# -- trades, sidebets, player state ------------------------------------------------------------
class NewTrade(Wire):
    id: str
    gameId: str
    playerId: str
    username: str | None = None
    level: int | None = None
    price: Decimal
    type: str
    tickIndex: int | None = None
    coin: str | None = None
    amount: Decimal | None = None
    qty: Decimal | None = None
    leverage: Decimal | None = None
    bonusPortion: Decimal | None = None
    realPortion: Decimal | None = None


class SideBet(Wire):
    """newSideBet / currentSidebet / currentSidebetResult (type "placed" or "payout")."""

    id: str | None = None
    gameId: str | None = None
    playerId: str | None = None
    username: str | None = None
    level: int | None = None
    type: str | None = None
    betAmount: Decimal | None = None
    xPayout: Decimal | None = None
    coinAddress: str | None = None
    startTick: int | None = None
    endTick: int | None = None
    startedAtTick: int | None = None
    end: int | None = None
    tickIndex: int | None = None
    price: Decimal | None = None
    payout: Decimal | None = None
    profit: Decimal | None = None
    bonusPortion: Decimal | None = None
    realPortion: Decimal | None = None
    timestamp: int | None = None


class LevelInfo(Wire):
    level: int | None = None
    xp: int | None = None
    xpForNextLevel: int | None = None
    totalXP: int | None = None


class PlayerUpdate(Wire):
    id: str
    role: str | None = None
    cash: Decimal | None = None
    bonusBalance: Decimal | None = None
    bonusWagerReq: Decimal | None = None
    bonusWagered: Decimal | None = None
    positionQty: Decimal | None = None
    avgCost: Decimal | None = None
    cumulativePnL: Decimal | None = None
    sidebetPnl: Decimal | None = None
    pnlPercent: Decimal | None = None
    totalInvested: Decimal | None = None
    hasInteracted: bool | None = None
    selectedCoin: dict[str, Any] | None = None
    levelInfo: LevelInfo | None = None
    crateKeys: dict[str, Any] | None = None
    recentCrateRewards: list[dict[str, Any]] | None = None
    shitcoinBalances: dict[str, Decimal] | None = None
    authenticated: bool | None = None
    hitMaxWin: bool | None = None
    xpBoost: dict[str, Any] | None = None
    sideBet: dict[str, Any] | None = None
    sidebets: list[dict[str, Any]] | None = None
    shortPosition: dict[str, Any] | None = None
    leveragedPositions: list[dict[str, Any]] | None = None
    autobuysEnabled: bool | None = None
    autosellPrice: Decimal | None = None


class GameStatePlayerUpdate(Wire):
    gameId: str
    leaderboardEntry: LeaderboardEntry | None = None
    rugpool: Rugpool | None = None
    trades: list[dict[str, Any]] | None = None


class UsernameStatus(Wire):
    id: str | None = None
    username: str | None = None
    hasUsername: bool | None = None


class PlayerLeaderboardPosition(Wire):
    position: int | None = None
    pnl: Decimal | None = None
    playerId: str | None = None


class ChatMessage(Wire):
    playerId: str | None = None
    username: str | None = None
    level: int | None = None
    message: str | None = None
    timestamp: int | None = None
    filtered: bool | None = None
    role: str | None = None
    tag: str | None = None
    verified: bool | None = None
    discordUsername: str | None = None
    replyTo: Any = None


class TournamentUpdate(Wire):
    """rugRoyaleUpdate / battleEventUpdate / goldenHourUpdate: schedules and leaderboards."""

    status: str | None = None
    currentEvent: dict[str, Any] | None = None
    leaderboard: list[dict[str, Any]] | None = None
    config: dict[str, Any] | None = None
    playerPosition: Any = None
    activeEventId: str | None = None
    events: list[Any] | None = None
    finalRound: Any = None
    history: list[Any] | None = None
    isInFinalRound: bool | None = None
    timeRemaining: int | None = None
    upcomingEvents: list[Any] | None = None
    activeBattleCount: int | None = None
    endTime: Any = None
    eventSchedule: Any = None
    fullLeaderboardSize: int | None = None
    isShowingPreviousEvent: bool | None = None
    lobbyCreationDisabled: bool | None = None
    nextEvent: Any = None
    nextEventStartTime: Any = None
    participantCount: int | None = None
    queue: Any = None
    startTime: Any = None


class AnyPayload(RootModel[Any]):
    """Events whose payload shape is not pinned down (notifications, acks): anything JSON."""


# -- client requests -------------------------------------------------------------------------
class BuyOrder(Wire):
    amount: Decimal


class SellOrder(Wire):
    percentage: Decimal


class RequestSidebet(Wire):
    amount: Decimal
    coinAddress: str | None = None
    xPayout: Decimal | None = None


class Ping(Wire):
    lastPing: int | None = None


# -- the daemon's own system events (raw_json = details object) -------------------------------
class SystemDetails(Wire):
    url: str | None = None
    source: str | None = None
    pid: int | None = None
    transport: str | None = None
    sid: str | None = None
    reason: str | None = None
    attempt: int | None = None
    delay_seconds: float | None = None
    error: str | None = None
    silent_seconds: float | None = None
    received: int | None = None
    records: int | None = None
    quarantined: int | None = None
    # the browser capture (source cdp): DevTools endpoint, tab (target) and socket (CDP request id)
    cdp_url: str | None = None
    browser: str | None = None
    pages: int | None = None
    target_id: str | None = None
    socket_id: str | None = None
    sent: int | None = None
    hint: str | None = None


# -- legacy records (raw_json = the record itself) ----------------------------------------------
class LegacyRecord(Wire):
    type: str | None = None
    timestamp: str | None = None
    game_id: str | None = None


class LegacyTick(LegacyRecord):
    tick: int
    price: Decimal
    phase: str | None = None
    active: bool | None = None
    rugged: bool | None = None
    cooldown_timer: int | None = None
    trade_count: int | None = None


class LegacyGameEnd(LegacyRecord):
    total_ticks: int | None = None
    tick_range: list[int] | None = None
    price_range: list[Decimal] | None = None
    peak_price: Decimal | None = None
    final_price: Decimal | None = None
    status: str | None = None
    incomplete_reason: str | None = None
    discard_reason: str | None = None


class LegacySession(LegacyRecord):
    session_id: str | None = None
    session_game_number: int | None = None
    starting_balance: Decimal | None = None
    max_games: int | None = None


# event_name -> model of its payload (the LAST argument; legacy/system: raw_json itself)
MODELS: dict[str, type[BaseModel]] = {
    "gameStateUpdate": GameStateUpdate,
    "standard/newTrade": NewTrade,
    "newSideBet": SideBet,
    "currentSidebet": SideBet,
    "currentSidebetResult": SideBet,
    "playerUpdate": PlayerUpdate,
    "gameStatePlayerUpdate": GameStatePlayerUpdate,
    "usernameStatus": UsernameStatus,
    "playerLeaderboardPosition": PlayerLeaderboardPosition,
    "newChatMessage": ChatMessage,
    "gameNotification": AnyPayload,
    "rugRoyaleUpdate": TournamentUpdate,
    "battleEventUpdate": TournamentUpdate,
    "goldenHourUpdate": TournamentUpdate,
    "buyOrder": BuyOrder,
    "sellOrder": SellOrder,
    "requestSidebet": RequestSidebet,
    "ping": Ping,
    "authenticate": AnyPayload,
    "chatHistory": AnyPayload,
    "getLeaderboard": AnyPayload,
    "__ack__": AnyPayload,
    "legacy.tick": LegacyTick,
    "legacy.game_start": LegacySession,
    "legacy.game_end": LegacyGameEnd,
    "legacy.game_complete": LegacyGameEnd,
    "legacy.session_start": LegacySession,
    "legacy.session_end": LegacySession,
    "legacy.metadata": AnyPayload,
}
SYSTEM_MODELS: dict[str, type[BaseModel]] = {
    name: SystemDetails
    for name in ("connect", "disconnect", "connect_error", "reconnect_attempt", "watchdog_alarm",
                 "session_start", "session_end", "spool_recovered", "browser_attached", "browser_lost",
                 "browser_retrying", "target_attached", "target_detached", "socket_created", "socket_closed",
                 "socket_error", "socket_unknown")
}

# Nested lists/objects whose keys the drift check also looks into: (event, JSON path) -> model.
NESTED_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("gameStateUpdate", "leaderboard"): LeaderboardEntry,
    ("gameStateUpdate", "gameHistory"): GameHistoryEntry,
}


def known_fields(model: type[BaseModel]) -> set[str]:
    if issubclass(model, RootModel):
        return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def payload_of(event_name: str, raw_json: str) -> Any:
    """The payload a ws_event row carries, decimals exact: last array element (live/replay frames)
    or the record itself (legacy.* rows)."""
    value = json.loads(raw_json, parse_float=Decimal)
    if event_name.startswith("legacy.") or not isinstance(value, list):
        return value
    return value[-1] if len(value) > 1 else None


def validate_payload(event_name: str, payload: Any) -> tuple[bool, str | None]:
    """(True, None) when the payload fits its event's model (or the event has none: drift reports
    it); (False, reason) otherwise. A list payload of a dict model is validated element-wise."""
    model = MODELS.get(event_name) or SYSTEM_MODELS.get(event_name)
    if model is None:
        return True, None
    try:
        if isinstance(payload, list) and not issubclass(model, RootModel):
            for item in payload:
                model.model_validate(item)
        else:
            model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return False, f"{model.__name__}: {where}: {first.get('msg')}"[:300]
    return True, None
