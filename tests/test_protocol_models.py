"""The pydantic protocol models against every real payload in tests/fixtures/raw/."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pipeline_helpers import AUTH, SAMPLES, payload

from vectra_capture.protocol.models import (
    MODELS,
    SYSTEM_MODELS,
    GameStateUpdate,
    NewTrade,
    PlayerUpdate,
    known_fields,
    payload_of,
    validate_payload,
)


def real_payloads() -> list[tuple[str, object]]:
    out = [(r["event_type"], payload(r["data"]))
           for r in (json.loads(line, parse_float=Decimal) for line in SAMPLES.read_text().splitlines())]
    for path in AUTH:
        rec = json.loads(path.read_text(), parse_float=Decimal)
        out.append((rec["event"], rec["data"]))
    return out


def test_every_real_payload_validates() -> None:
    seen = set()
    for name, p in real_payloads():
        assert name in MODELS, f"no model for {name}"
        ok, reason = validate_payload(name, p)
        assert ok, (name, reason)
        seen.add(name)
    assert seen == {"gameStateUpdate", "standard/newTrade", "newChatMessage", "rugRoyaleUpdate", "battleEventUpdate",
                    "playerUpdate", "gameStatePlayerUpdate"}


def test_real_fields_are_known_to_the_models() -> None:
    """Every top-level key of a real payload is a declared field (drift starts from zero)."""
    for name, p in real_payloads():
        if isinstance(p, dict):
            assert set(p) <= known_fields(MODELS[name]), (name, set(p) - known_fields(MODELS[name]))


def test_decimals_are_exact_and_extras_kept() -> None:
    for name, p in real_payloads():
        if name == "standard/newTrade":
            trade = NewTrade.model_validate({**p, "futureField": {"x": 1}})
            assert trade.price == p["price"] and isinstance(trade.price, Decimal)
            assert trade.model_extra == {"futureField": {"x": 1}}
        if name == "gameStateUpdate" and p.get("gameHistory"):
            m = GameStateUpdate.model_validate(p)
            assert m.gameHistory[0].prices == p["gameHistory"][0]["prices"]
    # through payload_of (the path the pipeline uses) a 19-decimal price stays exact
    text = '["standard/newTrade", {"__trace": true}, {"id": "t", "gameId": "g", "playerId": "p", "type": "sell", ' \
           '"price": 0.0074962956398157985}]'
    trade = NewTrade.model_validate(payload_of("standard/newTrade", text))
    assert trade.price == Decimal("0.0074962956398157985")


def test_cooldown_tick_without_play_fields() -> None:
    cooldown = next(p for n, p in real_payloads() if n == "gameStateUpdate" and "tickCount" not in p)
    m = GameStateUpdate.model_validate(cooldown)
    assert m.price is None and m.tickCount is None and m.cooldownTimer is not None


@pytest.mark.parametrize("name,bad,where", [
    ("standard/newTrade", {"gameId": "g", "playerId": "p", "price": 1, "type": "buy"}, "id"),
    ("standard/newTrade", {"id": "t", "gameId": "g", "playerId": "p", "price": "abc", "type": "buy"}, "price"),
    ("gameStateUpdate", {"gameId": "g", "tickCount": "twelve"}, "tickCount"),
    ("playerUpdate", {"cash": 1}, "id"),
    ("buyOrder", {}, "amount"),
    ("legacy.tick", {"type": "tick", "game_id": "g", "price": 1.0}, "tick"),
])
def test_broken_payloads_fail_with_a_reason(name: str, bad: dict, where: str) -> None:
    ok, reason = validate_payload(name, bad)
    assert not ok and where in reason


def test_list_payloads_unknown_events_and_system_events() -> None:
    chat = [{"playerId": "p", "message": "hi"}, {"playerId": "q", "message": "yo"}]
    assert validate_payload("newChatMessage", chat) == (True, None)
    assert not validate_payload("newChatMessage", [{"level": "high"}])[0]
    assert validate_payload("gameNotification", [1, "x"]) == (True, None)
    assert validate_payload("somethingNew", {"a": 1}) == (True, None)  # no model: drift reports it
    assert set(SYSTEM_MODELS) >= {"connect", "disconnect", "watchdog_alarm", "session_start", "session_end"}
    assert validate_payload("reconnect_attempt", {"attempt": 2, "delay_seconds": 1.5}) == (True, None)
    assert PlayerUpdate.model_validate(next(p for n, p in real_payloads() if n == "playerUpdate")).cash > 0
