"""The legacy reader on the real fixture files: accounting, salvage, quarantine, time zones, formats."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from legacy_helpers import FIXTURES, RAW_SAMPLES, line_of, plain_counts

from vectra_capture.legacy.formats import CAPTURE, FEED_SAMPLE, GAME, HEADER, UNKNOWN
from vectra_capture.legacy.reader import read_legacy_file
from vectra_capture.legacy.records import RAW_JSON, ROW_FIELDS
from vectra_capture.legacy.timestamps import to_utc_us

ALL_FILES = sorted(FIXTURES.glob("*.jsonl"))


def _utc(naive: str, offset_hours: int) -> datetime:
    """Naive US-Eastern text -> UTC with a KNOWN fixed offset (independent of zoneinfo)."""
    return datetime.fromisoformat(naive) + timedelta(hours=offset_hours)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_per_file_accounting_is_exact(path: Path) -> None:
    plain = plain_counts(path)
    lf = read_legacy_file(path, FIXTURES)
    c = lf.counters
    assert lf.format == GAME
    assert c.lines == plain.lines
    assert c.blank == plain.blank
    assert c.imported == plain.clean  # every whole-JSON line of these files is a valid record
    assert c.salvaged + c.quarantined == len(plain.broken)
    assert c.lines == c.imported + c.salvaged + c.quarantined + c.blank
    assert len(lf.records) == c.imported + c.salvaged_records
    assert len(lf.quarantined) == c.quarantined + c.fragments
    # whole lines keep their text exactly; records are numbered 0..n-1 in file order
    whole = {r.line_no: r.text for r in lf.records if not r.salvaged}
    assert whole == plain.clean_texts
    assert [r.index for r in lf.records] == list(range(len(lf.records)))
    assert [r.line_no for r in lf.records] == sorted(r.line_no for r in lf.records)
    # every broken line is either salvaged (records + fragments) or quarantined whole
    salvaged_lines = {r.line_no for r in lf.records if r.salvaged}
    whole_quarantine = {q.line_no for q in lf.quarantined if not q.fragment}
    assert salvaged_lines | whole_quarantine == set(plain.broken)
    assert not salvaged_lines & whole_quarantine


def test_salvaged_lines_lose_no_bytes() -> None:
    """For a salvaged line, recovered record texts + quarantined fragments add up to the whole line."""
    checked = 0
    for path in ALL_FILES:
        lf = read_legacy_file(path, FIXTURES)
        for no in {r.line_no for r in lf.records if r.salvaged}:
            text = line_of(path, no).strip()
            kept = sum(len(r.text) for r in lf.records if r.line_no == no)
            kept += sum(len(q.raw.decode()) for q in lf.quarantined if q.line_no == no)
            assert kept == len(text), (path.name, no)
            checked += 1
    assert checked > 40


def test_interleaved_line_yields_the_records_visible_in_it() -> None:
    path = FIXTURES / "game_20251031_150533.jsonl"
    text = line_of(path, 3)
    # Line 3: three writes cut short by the other writer, then one complete record at the end.
    assert text.count('{"type"') == 4 and text.endswith('"cooldown_timer": 14400, "trade_count": 0}')
    lf = read_legacy_file(path, FIXTURES)
    recs = [r for r in lf.records if r.line_no == 3]
    assert len(recs) == 1 and recs[0].salvaged
    assert recs[0].obj["cooldown_timer"] == 14400
    assert recs[0].obj["timestamp"] == "2025-10-31T15:05:33.638139"
    assert recs[0].text == text[text.rindex('{"type"'):]
    frags = [q for q in lf.quarantined if q.line_no == 3]
    assert len(frags) == 3 and all(q.fragment for q in frags)
    for timer in (14700, 14600, 14500):
        assert sum(f'"cooldown_timer": {timer},' in q.raw.decode() for q in frags) == 1


def test_glued_records_are_both_recovered() -> None:
    path = FIXTURES / "game_20251031_151152.jsonl"
    text = line_of(path, 115)
    assert text.startswith('{{"type"') and '}{"type"' in text
    lf = read_legacy_file(path, FIXTURES)
    recs = [r for r in lf.records if r.line_no == 115]
    assert [r.obj["cooldown_timer"] for r in recs] == [3500, 3300]
    assert [q.raw for q in lf.quarantined if q.line_no == 115] == [b"{"]
    # the other writer's record on line 2 of game_20251029_212119: the 14900 tick is cut, 14700 is whole
    lf2 = read_legacy_file(FIXTURES / "game_20251029_212119.jsonl", FIXTURES)
    assert [r.obj["cooldown_timer"] for r in lf2.records if r.line_no == 2] == [14700]
    frag = [q for q in lf2.quarantined if q.line_no == 2]
    assert len(frag) == 1 and b'"cooldown_timer": 14900' in frag[0].raw


def test_human_notes_are_quarantined_with_the_original_line() -> None:
    path = FIXTURES / "game_20251030_121110_da674ded.jsonl"
    lf = read_legacy_file(path, FIXTURES)
    notes = {q.line_no: q for q in lf.quarantined}
    assert set(notes) == {3, 155, 332}
    raw_lines = path.read_bytes().split(b"\n")
    for no, q in notes.items():
        assert q.raw == raw_lines[no - 1]
        assert q.raw.startswith(b"## ") and "human note" in q.reason and not q.fragment
    assert not any(r.line_no in notes for r in lf.records)


@pytest.mark.parametrize(("name", "no"), [("game_20251031_150706.jsonl", 649), ("game_20251102_184909.jsonl", 2),
                                          ("game_20251031_151152.jsonl", 177)])
def test_lines_starting_mid_record_are_quarantined(name: str, no: int) -> None:
    lf = read_legacy_file(FIXTURES / name, FIXTURES)
    q = [q for q in lf.quarantined if q.line_no == no]
    assert len(q) == 1 and "mid-record" in q[0].reason
    assert not line_of(FIXTURES / name, no).startswith("{")


def test_dst_boundary_converts_both_sides() -> None:
    """2025-11-02 06:00 UTC: EDT (UTC-4) before, EST (UTC-5) after."""
    before = read_legacy_file(FIXTURES / "game_20251031_150533.jsonl", FIXTURES).records[0]
    after = read_legacy_file(FIXTURES / "game_20251102_184324.jsonl", FIXTURES).records[0]
    assert before.ts.replace(tzinfo=None) == _utc(before.obj["timestamp"], 4)
    assert after.ts.replace(tzinfo=None) == _utc(after.obj["timestamp"], 5)
    boundary = datetime.fromisoformat("2025-11-02T06:00:00+00:00")
    assert before.ts < boundary < after.ts
    # around the change itself: 01:59 EDT is 05:59 UTC; 03:00 (EST) is 08:00 UTC
    assert to_utc_us("2025-11-02T00:59:00") == to_utc_us("2025-11-02T04:59:00+00:00")
    assert to_utc_us("2025-11-02T03:00:00") == to_utc_us("2025-11-02T08:00:00+00:00")
    assert to_utc_us("2025-11-02T03:00:00Z") == to_utc_us("2025-11-02T03:00:00+00:00")


def test_game_id_dates_agree_with_utc_dates() -> None:
    """The gameId date is UTC; e.g. 21:21 EDT on Oct 29 is already Oct 30 in UTC."""
    lf = read_legacy_file(FIXTURES / "game_20251029_212119.jsonl", FIXTURES)
    first = lf.records[0]
    assert first.obj["timestamp"].startswith("2025-10-29T21:") and first.game_id.startswith("20251030-")
    assert first.ts.strftime("%Y%m%d") == "20251030"
    total = sum(read_legacy_file(p, FIXTURES).counters.gameid_date_mismatch for p in ALL_FILES)
    checked = sum(1 for p in ALL_FILES for r in read_legacy_file(p, FIXTURES).records if r.game_id)
    assert total == 0 and checked > 20_000


def test_placeholder_cooldown_ticks_stay_cooldown_rows() -> None:
    lf = read_legacy_file(FIXTURES / "game_20251029_183909.jsonl", FIXTURES)
    cooldown = [r for r in lf.records if r.kind == "tick" and r.obj["cooldown_timer"] > 0]
    assert cooldown and all(r.obj["tick"] == 0 and r.event_name == "legacy.tick" for r in cooldown)
    assert all(r.obj["active"] is False for r in cooldown)


def test_raw_feed_samples_become_socketio_arrays() -> None:
    plain = plain_counts(RAW_SAMPLES)
    lf = read_legacy_file(RAW_SAMPLES, RAW_SAMPLES.parent)
    assert lf.format == FEED_SAMPLE and len(lf.records) == plain.clean == plain.lines - plain.blank
    for rec in lf.records:
        src = json.loads(plain.clean_texts[rec.line_no])
        arr = json.loads(rec.raw_json())
        assert arr[0] == src["event_type"] == rec.event_name
        data = src["data"]
        traced = isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0]
        assert arr[1:] == (data if traced else [data])
        if isinstance(arr[-1], dict) and "gameId" in arr[-1]:
            assert rec.game_id == arr[-1]["gameId"]
    assert any(json.loads(r.raw_json())[1].get("__trace") for r in lf.records if isinstance(json.loads(r.raw_json())[1], dict))


def test_capture_header_and_unknown_formats(tmp_path: Path) -> None:
    cap = tmp_path / "capture.jsonl"
    trace = {"__trace": True, "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    cap.write_text(
        json.dumps({"seq": 1, "ts": "2025-12-17T21:35:05.644723+00:00", "event": "standard/newTrade",
                    "data": [trace, {"gameId": "20251217-x", "playerId": "did:privy:p", "username": "u"}],
                    "source": "cdp", "direction": "received"}) + "\n"
        + json.dumps({"seq": 2, "ts": 1765999999.5, "event": "buyOrder", "data": {"amount": 0.1},
                      "direction": "sent"}) + "\n"
        + '{"seq": 3, "ts": "2025-12-17T21:35:07", "event": "gameStateUpdate", "da\n'
    )
    lf = read_legacy_file(cap, tmp_path)
    assert lf.format == CAPTURE and lf.counters.imported == 2 and lf.counters.quarantined == 1
    first, second = lf.records
    assert json.loads(first.raw_json()) == ["standard/newTrade", trace, first.payload]
    assert (first.game_id, first.player_id, first.username) == ("20251217-x", "did:privy:p", "u")
    assert first.ts.isoformat() == "2025-12-17T21:35:05.644723+00:00"
    assert second.direction == "sent" and json.loads(second.raw_json()) == ["buyOrder", {"amount": 0.1}]

    hdr = tmp_path / "old.jsonl"
    meta = {"_metadata": {"game_id": "20251001-abc", "start_time": "2025-10-01T10:00:00"}}
    hdr.write_text("\n".join([
        json.dumps(meta),
        json.dumps({"tick": 1, "price": 1.01, "timestamp": "2025-10-01T10:00:01"}),
        json.dumps({"tick": 2, "price": 1.02, "timestamp": "2025-10-01T10:00:02"}) + '{"tick": 3',
        "",
        json.dumps({"_metadata": {"game_id": "20251001-abc", "ticks": 3}}),
    ]) + "\n")
    lf = read_legacy_file(hdr, tmp_path)
    c = lf.counters
    assert lf.format == HEADER and (c.lines, c.imported, c.salvaged, c.blank, c.fragments) == (5, 3, 1, 1, 1)
    assert [r.event_name for r in lf.records] == ["legacy.metadata", "legacy.tick", "legacy.tick", "legacy.metadata"]
    assert all(r.game_id == "20251001-abc" for r in lf.records)
    assert lf.records[0].ts.isoformat() == "2025-10-01T14:00:00+00:00"  # EDT
    assert lf.records[-1].ts == lf.records[-2].ts  # a time-less header takes its neighbour's time

    unk = tmp_path / "mystery.jsonl"
    unk.write_text('{"foo": 1}\n\n{"foo": 2}\n')
    lf = read_legacy_file(unk, tmp_path)
    assert lf.format == UNKNOWN and not lf.records and lf.counters.balanced()
    assert lf.counters.quarantined == 2 and "unknown legacy format" in lf.quarantined[0].reason


def test_dst_fall_back_second_pass_reads_as_est(tmp_path: Path) -> None:
    """01:00-01:59 local happens twice on 2025-11-02. A recording's time never goes backwards, so once
    01:59:59 EDT was seen, 01:00:05 is the second pass (EST), not an hour earlier."""
    local = ["2025-11-02T01:30:00", "2025-11-02T01:59:59", "2025-11-02T01:00:05", "2025-11-02T01:30:00"]
    expect_utc = ["2025-11-02T05:30:00", "2025-11-02T05:59:59", "2025-11-02T06:00:05", "2025-11-02T06:30:00"]
    # microseconds too: the fast path (per-minute) and the 26-char form must agree
    lines = [json.dumps({"type": "tick", "timestamp": t, "game_id": "20251102-aa", "tick": i})
             for i, t in enumerate(local)]
    lines.insert(2, json.dumps({"type": "tick", "timestamp": "2025-11-02T01:59:59.500000", "game_id": "g"}))
    expect_utc.insert(2, "2025-11-02T05:59:59.500000")
    path = tmp_path / "game_dst.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for _ in range(2):  # twice: a second read must not be served a cached first-pass reading
        recs = read_legacy_file(path, tmp_path).records
        got = [r.ts.replace(tzinfo=None) for r in recs]
        assert got == [datetime.fromisoformat(t) for t in expect_utc]
        assert all(a < b for a, b in zip(got, got[1:], strict=False))
    # without an earlier record an ambiguous time keeps the first (EDT) reading
    assert to_utc_us("2025-11-02T01:30:00") == to_utc_us("2025-11-02T05:30:00+00:00")


def _row_view(lf) -> tuple:
    """What the importer's rows and quarantine are made of: (seq, *Row) per record."""
    if lf.rows:  # lean: a record's seq is its position
        assert not lf.records and all(type(r) is tuple and len(r) == len(ROW_FIELDS) for r in lf.rows)
        recs = list(enumerate(lf.rows))
    else:
        recs = [(r.index, (r.ts_us, r.line_no, r.event_name, r.game_id, r.player_id, r.username, r.direction,
                           r.raw_json())) for r in lf.records]
        assert [row for _, row in recs] == [r.row() for r in lf.records]
    quarantined = [(q.line_no, q.raw, q.reason, q.fragment) for q in lf.quarantined]
    return recs, quarantined, lf.counters.as_dict(), lf.sha256, lf.size


def test_lean_records_give_the_same_rows(tmp_path: Path) -> None:
    """The importer reads with keep_objects=False: every format, salvaged and quarantined lines and
    whitespace-only lines come out the same as with the parsed objects kept."""
    cap = tmp_path / "capture.jsonl"
    trace = {"__trace": True, "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    first = json.dumps({"seq": 1, "ts": "2025-12-17T21:35:05.644723+00:00", "event": "standard/newTrade",
                        "data": [trace, {"gameId": "20251217-x", "playerId": "did:privy:p", "username": "ü"}]})
    second = json.dumps({"seq": 2, "ts": 1765999999.5, "event": "buyOrder", "data": {"amount": 0.1},
                         "direction": "sent"})
    cap.write_bytes("\n".join([
        first, second + first,  # glued: salvaged into two records
        " \t\r", "\u00a0", "\r",  # blank, non-ASCII whitespace only (quarantined, not blank), blank
        '{"seq": 3, "ts": "2025-12-17T21:35:07", "event": "gameStateUpdate", "da', second + "\r",
    ]).encode() + b"\n")
    files = [*ALL_FILES[:6], RAW_SAMPLES, cap]
    for path in files:
        full = read_legacy_file(path, path.parent)
        lean = read_legacy_file(path, path.parent, keep_objects=False)
        assert _row_view(lean) == _row_view(full), path.name
        assert lean.game_ids == full.game_ids
    lf = read_legacy_file(cap, tmp_path, keep_objects=False)
    c = lf.counters
    assert (c.lines, c.imported, c.salvaged, c.salvaged_records, c.blank, c.quarantined) == (7, 2, 1, 2, 2, 2)
    assert json.loads(lf.rows[0][RAW_JSON])[2]["username"] == "ü"
    assert [q.raw for q in lf.quarantined if not q.fragment][0] == "\u00a0".encode()


def test_per_second_time_cache_keeps_the_fraction_in_the_dst_choice() -> None:
    """Seconds are cached only where the reading cannot depend on the previous record; in the repeated
    hour the fraction still counts: 01:30:00.200000 after 05:30:00.500000 UTC (EDT reading would go
    back 0.3 s) is the EST pass, 01:30:00.900000 after the same time is not."""
    after = to_utc_us("2025-11-02T05:30:00.500000+00:00")
    assert to_utc_us("2025-11-02T01:30:00.200000", after) == to_utc_us("2025-11-02T06:30:00.200000+00:00")
    assert to_utc_us("2025-11-02T01:30:00.900000", after) == to_utc_us("2025-11-02T05:30:00.900000+00:00")
    for _ in range(2):  # the second time from the cache
        assert to_utc_us("2025-10-29T18:36:08.376110") == to_utc_us("2025-10-29T22:36:08.376110+00:00")
        assert to_utc_us("2025-10-29T18:36:08") == to_utc_us("2025-10-29T22:36:08+00:00")
        assert to_utc_us("2025-10-29T18:36:61.000000") is None and to_utc_us("2025-10-29T18:36:08.37611x") is None
