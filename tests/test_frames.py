"""The frame parser never raises, and parses what a real server sends exactly."""

from __future__ import annotations

import base64
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from socketio import packet as sio_packet

from vectra_capture.frames import (
    ACK_EVENT_NAME,
    DEFAULT_MAX_FRAME_BYTES,
    QUARANTINE_HEAD_BYTES,
    Control,
    Frame,
    FrameDecoder,
    FrameError,
    Quarantined,
    envelope_ids,
    name_from_head,
    parse_frame,
)

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


# -- FrameDecoder: one WebSocket message at a time, as the socket client and the CDP capture feed it ------

def _accounted(items: list) -> int:
    """How many WebSocket messages these items stand for (a binary Frame: its header + attachments)."""
    return sum(1 + i.attachments if isinstance(i, Frame) else 1 for i in items)


messages = st.one_of(
    st.text(max_size=60),
    st.binary(max_size=40),
    st.tuples(st.just("text-bytes"), st.binary(max_size=40)),
    st.sampled_from(["2", "3", "6", "40", '40{"sid":"s"}', "41", '44{"message":"no"}', '451-["b",{"_placeholder":true,'
                     '"num":0}]', '462-7[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]', "450-[\"z\"]",
                     '42/admin,3["e",1]', '43["ok"]', "4", "", "45", "451-", '451-{"x":1}']),
)


def _feed(decoder: FrameDecoder, m) -> list:
    if isinstance(m, tuple):
        return decoder.feed(m[1], text=True)
    return decoder.feed(m, text=False) if isinstance(m, bytes) else decoder.feed(m)


@settings(max_examples=500)
@given(st.lists(messages, max_size=12), st.sampled_from([40, 1000, DEFAULT_MAX_FRAME_BYTES]))
def test_decoder_never_raises_and_accounts_for_every_message(sequence: list, limit: int) -> None:
    decoder = FrameDecoder(limit)
    items = [i for m in sequence for i in _feed(decoder, m)] + decoder.flush()
    assert all(isinstance(i, Frame | Control | Quarantined) for i in items)
    assert _accounted(items) == len(sequence)  # nothing vanishes: a row, a counted packet or a quarantine record
    for i in items:
        if isinstance(i, Frame):
            assert i.event_name and isinstance(json.loads(i.json_text), list)
        if isinstance(i, Quarantined):
            assert i.reason and len(i.raw) <= max(limit, QUARANTINE_HEAD_BYTES) + 8


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=30), st.lists(json_values, max_size=3),
       st.none() | st.from_regex(r"/[a-z]{1,8}", fullmatch=True), st.none() | st.integers(0, 2**63 - 1))
def test_namespace_and_ack_id_are_kept(name: str, args: list, namespace: str | None, ack_id: int | None) -> None:
    body = json.dumps([name, *args])
    message = "42" + (f"{namespace}," if namespace else "") + ("" if ack_id is None else str(ack_id)) + body
    (frame,) = FrameDecoder().feed(message)
    assert isinstance(frame, Frame) and frame.packet_type == "event"
    assert (frame.event_name, frame.namespace, frame.ack_id, frame.json_text) == (name, namespace, ack_id, body)
    (ack,) = FrameDecoder().feed("43" + (f"{namespace}," if namespace else "") + str(ack_id or 0) + json.dumps(args))
    assert isinstance(ack, Frame) and ack.event_name == ACK_EVENT_NAME and ack.ack_id == (ack_id or 0)
    assert ack.namespace == namespace and ack.args == args


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=20), st.lists(st.binary(max_size=30), min_size=1, max_size=3),
       st.lists(json_values, max_size=2), st.none() | st.integers(0, 999))
def test_binary_events_assemble_with_base64_attachments(name: str, blobs: list[bytes], extra: list,
                                                        ack_id: int | None) -> None:
    # python-socketio's own encoder is the reference for the header and the attachment messages
    header, *attachments = sio_packet.Packet(sio_packet.EVENT, data=[name, *blobs, *extra], id=ack_id).encode()
    decoder = FrameDecoder()
    assert decoder.feed("4" + header) == []  # waits for its attachments
    out = [i for a in attachments for i in decoder.feed(a, text=False)]
    assert len(out) == 1 and isinstance(out[0], Frame)
    frame = out[0]
    assert (frame.packet_type, frame.event_name, frame.ack_id, frame.attachments) == ("binary_event", name, ack_id,
                                                                                      len(blobs))
    stored = json.loads(frame.json_text)
    assert stored[0] == name and stored[1 + len(blobs):] == extra
    for i, blob in enumerate(blobs):
        assert stored[1 + i] == {"_placeholder": True, "num": i, "base64": base64.b64encode(blob).decode()}
    assert frame.args == stored[1:]
    assert decoder.flush() == []


def test_binary_header_cut_short_is_quarantined_with_its_attachments() -> None:
    decoder = FrameDecoder()
    assert decoder.feed('452-/admin,["pair",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]') == []
    assert decoder.feed(b"first", text=False) == []
    header, attachment, nxt = decoder.feed('42["next"]')
    assert isinstance(header, Quarantined) and header.event_name == "pair" and header.raw.startswith(b"452-/admin,")
    assert "got 1 of its 2 attachments" in header.reason
    assert isinstance(attachment, Quarantined) and attachment.raw == b"first"
    assert isinstance(nxt, Frame) and nxt.event_name == "next"
    # a placeholder pointing past the attachments, a stray binary message, the socket closing mid-packet
    assert decoder.feed('451-["p",{"_placeholder":true,"num":3}]') == []
    (bad_num, bad_att) = decoder.feed(b"x", text=False)
    assert "could not be assembled: placeholder num 3" in bad_num.reason and bad_att.raw == b"x"
    assert decoder.feed('451-["p",{"_placeholder":true,"num":0,"more":1}]') == []  # no placeholder takes it
    (unused, _att) = decoder.feed(b"y", text=False)
    assert "attachments [0] unused" in unused.reason
    assert "no binary packet awaiting" in decoder.feed(b"stray", text=False)[0].reason
    decoder.feed('451-["late",{"_placeholder":true,"num":0}]')
    (closed,) = decoder.flush()
    assert "before the socket closed" in closed.reason and closed.event_name == "late"


def test_engineio_layer_and_odd_messages() -> None:
    decoder = FrameDecoder(max_frame_bytes=200)
    kinds = {t: decoder.feed(t + "x")[0].kind for t in "012356"}
    assert kinds == {"0": "open", "1": "close", "2": "ping", "3": "pong", "5": "upgrade", "6": "noop"}
    assert [decoder.feed(m)[0].kind for m in ("40", '40{"sid":"a"}', "41", '44{"message":"refused"}')] == [
        "connect", "connect", "disconnect", "connect_error"]
    for message, reason in [("", "empty Engine.IO message"), ("9", "unknown packet type '9' (Engine.IO)"),
                            ("4", "empty Socket.IO packet"), ("47[]", "unknown packet type '7' (Socket.IO)"),
                            ("40{bad", "invalid JSON"), ("42" + "9" * 20 + '["a"]', "out of the int64 range"),
                            ("b4AAE=", "unknown packet type 'b'")]:
        (q,) = decoder.feed(message)
        assert isinstance(q, Quarantined) and reason in q.reason and q.raw == message.encode(), (message, q)
    (q,) = decoder.feed(b'42["\xff"]', text=True)
    assert "not valid UTF-8" in q.reason and q.raw == b'42["\xff"]'
    over = '42/admin,7["gameHistory",{"blob":"' + "x" * 300 + '"}]'
    (q,) = decoder.feed(over.encode(), text=True)
    assert q.event_name == "gameHistory" and f"{len(over)} bytes exceeds the 200-byte" in q.reason
    (q,) = decoder.feed(b"\x00" * 300, text=False)
    assert "binary message of 300 bytes" in q.reason
    assert name_from_head(b'42["cut') is None and name_from_head(b'451-/a,9["n\\"q",{') == 'n"q'


def test_placeholders_spliced_verbatim_or_reserialised() -> None:
    decoder = FrameDecoder()
    decoder.feed('451-["e",{ "num" : 0 , "_placeholder" : true },1.50]')  # reversed keys: spliced verbatim
    (frame,) = decoder.feed(b"\x01", text=False)
    assert frame.json_text == '["e",{ "num" : 0 , "_placeholder" : true ,"base64":"AQ=="},1.50]'
    decoder.feed('451-["e",{"_placeholder":true,"num":7,"num":0},1.50]')  # a duplicate key: not the plain form
    (frame,) = decoder.feed(b"\x01", text=False)
    assert frame.json_text == '["e",{"_placeholder":true,"num":0,"base64":"AQ=="},1.5]'
