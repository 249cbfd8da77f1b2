"""The browser capture decodes with the same decoder as the socket client (frames.FrameDecoder): the
hostile server's odd frames, received by a page in real headless Chromium and captured through CDP,
land exactly as the socket capture lands them (tests/test_capture_hostile.py): binary events and
acks assembled with their base64 attachments, namespaces and ack ids kept, odd frames quarantined
with the same reasons, Engine.IO control packets counted in the status, never stored as events."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from capture_helpers import rows
from cdp_helpers import Chromium, status
from conftest import free_port, wait_for, wait_port
from hostile_helpers import BIG, HUGE, LIMIT, ODD, HostileServer, expected

from vectra_capture.store.layout import DataPaths

# A browser fails the socket on a text frame that is not UTF-8 (RFC 6455): the one kind it cannot deliver.
BROWSER_ODD = [(messages, expect) for messages, expect in ODD if not any(isinstance(m, tuple) for m in messages)]


def test_odd_frames_from_the_browser_land_like_the_socket_clients(procs, tmp_path: Path) -> None:
    assert len(BROWSER_ODD) == len(ODD) - 1
    paths = DataPaths(tmp_path / "data")
    browser = Chromium(tmp_path).start()
    port = free_port()
    server = HostileServer(port, BROWSER_ODD)
    server.start()
    want = expected(BROWSER_ODD)
    try:
        wait_port(port)
        capture = procs(["capture", "--cdp", browser.cdp_url, "--data-dir", str(paths.root),
                         "--max-frame-bytes", str(LIMIT)], "capture")
        assert wait_for(lambda: status(paths.root).get("browser") == "attached", 60), capture.stderr()
        browser.open_tab(f"http://127.0.0.1:{port}/")
        assert server.sent_all.wait(90), capture.stderr()
        assert server.error is None, server.error
        assert wait_for(lambda: status(paths.root).get("received") == len(want), 60), (
            status(paths.root), capture.stderr()[-3000:])
        st = status(paths.root)
        assert capture.stop() == 0, capture.stderr()
    finally:
        browser.stop()  # first: the server's shutdown waits for the page's socket
        server.stop()

    control = st["control_packets"]  # counted by the daemon, whichever source decoded them
    assert control["open"] == 1 and control["connect"] == 2  # received 40 and the page's 40
    assert control["ping"] == 1 and control["pong"] == 1 and control["noop"] == 1 and control["upgrade"] == 1
    (socket_id,) = [s["socket_id"] for s in (json.loads(r[0]) for r in rows(paths, "system_event", "raw_json",
                                                                            "event_name = 'socket_created'"))]

    ws = rows(paths, "ws_event", "seq, event_name, raw_json, namespace, ack_id, socket_id, source",
              "direction = 'received'")
    quarantined = sorted(pq.read_table(list(paths.quarantine.rglob("*.parquet"))).to_pylist(), key=lambda q: q["seq"])
    merged = sorted([(r[0], "ws", r) for r in ws] + [(q["seq"], "q", q) for q in quarantined], key=lambda t: t[0])
    assert [(kind, row[1] if kind == "ws" else None) for _s, kind, row in merged] == [
        (kind, what if kind == "ws" else None) for kind, what in want]
    for (_seq, kind, row), (_kind, what) in zip(merged, want, strict=True):
        if kind == "q":
            assert what in row["reason"], (row["reason"], what)
            assert row["origin"] == f"socket:received:{socket_id}" and row["source"] == "cdp"
    assert {(r[5], r[6]) for r in ws} == {(socket_id, "cdp")}

    # the same rows the socket client lands for the same messages
    goods = [json.loads(r[2])[1]["n"] for r in ws if r[1] == "good"]
    assert goods == list(range(len(BROWSER_ODD) + 2))
    by_name = {r[1]: r for r in ws if r[1] != "__ack__"}
    assert by_name["binEvt"][2] == '["binEvt",{"_placeholder":true,"num":0,"base64":"AAH+/w=="}]'
    assert by_name["bigEvt"][2] == BIG[2:]
    assert by_name["nsEvt"][3] == "/admin" and by_name["nsEvt"][4] is None
    assert by_name["askEvt"][3] is None and by_name["askEvt"][4] == 17
    acks = {r[4]: r for r in ws if r[1] == "__ack__"}
    assert acks[99][2] == '["answer"]' and acks[99][3] is None
    assert acks[5][3] == "/admin" and acks[5][2] == '[{"_placeholder":true,"num":0,"base64":"YWNrLWJ5dGVz"}]'
    raws = {q["raw"] for q in quarantined}
    assert {b"", b"9hello", b"xyz", b'47["what"]', b"\x00stray", b"only-one"} <= raws
    huge = next(q for q in quarantined if "hugeEvt" in q["reason"])
    assert str(len(HUGE)) in huge["reason"]

    # the page's own frames: its CONNECT and its pong were counted, nothing it sent became an event
    assert rows(paths, "ws_event", "event_name", "direction = 'sent'") == []
    names = [r[0] for r in rows(paths, "system_event", "event_name")]
    assert names.count("connect") == 1 and names.index("socket_created") < names.index("connect")
