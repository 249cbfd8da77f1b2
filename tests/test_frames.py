"""The frame parser never raises, and parses what a real server sends exactly."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from vectra_capture.frames import Frame, FrameError, envelope_ids, parse_frame

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.one_of(st.text(), st.binary(), st.none(), st.integers()))
def test_random_input_never_raises(data) -> None:
    assert isinstance(parse_frame(data), Frame | FrameError)


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=40), st.lists(json_values, max_size=4), st.none() | st.integers(0, 10**6))
def test_event_frames_round_trip(name: str, args: list, ack_id: int | None) -> None:
    text = "2" + ("" if ack_id is None else str(ack_id)) + json.dumps([name, *args])
    frame = parse_frame(text)
    assert isinstance(frame, Frame)
    assert frame.event_name == name and frame.args == args and frame.ack_id == ack_id
    assert json.loads(frame.json_text) == [name, *args]


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=30), st.lists(json_values, max_size=3), st.integers(1, 200))
def test_truncated_frames_are_errors_not_exceptions(name: str, args: list, cut: int) -> None:
    text = "2" + json.dumps([name, *args])
    broken = text[: max(1, len(text) - cut)]
    result = parse_frame(broken)
    if broken != text:
        assert isinstance(result, FrameError) or json.loads(result.json_text) is not None


def test_known_shapes() -> None:
    traced = parse_frame('2["standard/newTrade",{"__trace":true,"traceparent":"00-a-b-01"},{"id":"t1","gameId":"g"}]')
    assert isinstance(traced, Frame) and traced.payload == {"id": "t1", "gameId": "g"} and len(traced.args) == 2
    assert parse_frame('3/game,12["ok"]').event_name == "__ack__"
    assert parse_frame('0{"sid":"x"}').event_name is None
    for bad, reason in [("", "empty"), ("2{", "invalid JSON"), ("2[1]", "event name"), ("9x", "unknown packet"),
                        ('2{"a":1}', "not an array"), (b"\x00", "not a text frame")]:
        err = parse_frame(bad)
        assert isinstance(err, FrameError) and reason in err.reason, (bad, err)
    assert "exceeds" in parse_frame("2" + json.dumps(["x", "y" * 100]), max_bytes=50).reason


def test_envelope_ids() -> None:
    assert envelope_ids({"gameId": "g", "playerId": "did:privy:p", "username": "u"}) == ("g", "did:privy:p", "u")
    assert envelope_ids({"id": "did:privy:abc", "cash": 1}) == (None, "did:privy:abc", None)
    assert envelope_ids({"id": "trade-uuid", "gameId": 5}) == (None, None, None)
    assert envelope_ids([{"gameId": "g"}]) == (None, None, None)
