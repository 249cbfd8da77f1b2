"""The typed outputs stay what they were: every typed table of every date of a deterministic multi-date
dataset (the fixture samples and auth examples, a second capture of them, an overlapping file, the
legacy recordings, bench-shaped games crossing midnight with a late second session, own orders and
their acks, half emojis, rows that are not JSON, decimals beyond a double) is compared, row for row
(as a digest of the sorted rows) and count for count, with tests/fixtures/derive_golden.json.

The golden file was written by the derivation before its speed-up (one DuckDB pass per date). Only
a deliberate behaviour change may rewrite it: `VECTRA_WRITE_GOLDEN=1 pytest tests/test_pipeline_golden.py`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import uuid
from pathlib import Path

import pyarrow.parquet as pq
from pipeline_helpers import AUTH, FIXTURES, fixture_events, fixture_records, land, raw_dates

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store import write_records
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.run import TABLES, derive_date
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS

GOLDEN = FIXTURES / "derive_golden.json"
ROOT = Path(__file__).resolve().parents[1]
MIDNIGHT = 1768521600_000000  # 2026-01-16 00:00 UTC in microseconds: bench games cross it


def _bench():
    spec = importlib.util.spec_from_file_location("bench_derive", ROOT / "bench" / "derive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rec(seq: int, ts: int, raw: str, session: str, source: str = "public_ws", **kw: object) -> RawRecord:
    name = raw[2:raw.index('"', 2)]  # not json.loads: some rows are deliberately not JSON
    return RawRecord("ws_event", ts, seq, source, session, raw.encode(), event_name=name, **kw)


def bench_games(paths: DataPaths) -> None:
    """Bench-shaped games from 23:20 UTC on, some crossing midnight; a second client's copy of the
    last minutes lands a few ms later under another session (keys must appear once, on their date)."""
    bench = _bench()
    gen = bench.Generator(bench.load_templates(), seed=11)
    rows = []
    for g in range(9):
        rows.extend(gen.game(g, MIDNIGHT - 40 * 60_000_000 + g * 5 * 60_000_000))
    session = str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-test:bench"))
    recs = [_rec(i, ts, raw, session, game_id=gid, player_id=pid, username=user)
            for i, (ts, _name, raw, gid, pid, user) in enumerate(rows)]
    write_records(paths, recs[: len(recs) // 2], "bench-a")
    write_records(paths, recs[len(recs) // 2:], "bench-b")
    late = str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-test:bench-late"))
    tail = [r for r in recs if r.ts_us >= MIDNIGHT - 10 * 60_000_000][:4000]
    write_records(paths, [_rec(i, r.ts_us + 2_000, r.raw.decode(), late, game_id=r.game_id)
                          for i, r in enumerate(tail)], "bench-late")


def own_orders(paths: DataPaths) -> None:
    """The player's own requests (cdp, sent) and their acks; one ack after midnight stays unpaired."""
    s = "cdp-session"
    t = MIDNIGHT - 60_000_000
    raws = [
        (t, '["buyOrder", {"amount": 0.1}]', "sent", 7, "sock1"),
        (t + 1_000, '["__ack__", {"success": true, "trade": {"id": "x"}}]', "received", 7, "sock1"),
        (t + 2_000, '["sellOrder", {"percentage": 50}]', "sent", 8, "sock1"),
        (t + 3_000, '["__ack__", {"success": false}]', "received", 8, "sock2"),  # another socket
        (t + 4_000, '["__ack__", {"success": false, "reason": "late"}]', "received", 8, "sock1"),
        (t + 5_000, '["sellOrder", {"percentage": 100}]', "sent", 9, "sock1"),
        (t + 6_000, '["requestSidebet", {"betAmount": 0.0123456789012345678, "xPayout": 5}]', "sent", 10, "sock1"),
        (t + 7_000, '["__ack__", {"success": true}]', "received", 10, "sock1"),
        (MIDNIGHT - 1_000, '["buyOrder", {"amount": 0.2}]', "sent", 11, "sock1"),
        (MIDNIGHT + 1_000, '["__ack__", {"success": true}]', "received", 11, "sock1"),
        (t + 8_000, '["buyOrder", {"amount": 0.3}]', "received", None, "sock1"),  # not sent: not an order
    ]
    write_records(paths, [_rec(i, ts, raw, s, "cdp", direction=d, ack_id=a, socket_id=sock)
                          for i, (ts, raw, d, a, sock) in enumerate(raws)], "cdp")


def odd_rows(paths: DataPaths) -> None:
    """Half emojis, a row that is not JSON, decimals beyond a double, a model failure, a sidebet."""
    ts = MIDNIGHT + 3_600_000_000
    raws = [
        r'["standard/newTrade", {"__trace": true}, {"id": "t1", "gameId": "g", "playerId": "did:privy:x", '
        r'"username": "ab\ud83d", "price": 1.5, "type": "buy", "amount": 0.1}]',
        r'["playerUpdate", {"id": "did:privy:x", "cash": 1.25, "username": "\udc00"}]',
        '["gameStateUpdate", {"gameId": "broken", ',
        '["standard/newTrade", {"id": "t-long", "gameId": "g", "playerId": "did:privy:p1", '
        '"price": 99.99999999999999999, "amount": 0.12345678901234567890123, "type": "buy"}]',
        '["standard/newTrade", {"id": "t-huge", "gameId": "g", "playerId": "did:privy:p1", '
        '"price": 1.5, "amount": 1e15, "type": "buy"}]',
        '["standard/newTrade", {"gameId": "g", "price": "not a number"}]',
        '["newSideBet", {"id": "sb1", "gameId": "g", "playerId": "did:privy:p1", "type": "placed", '
        '"betAmount": 0.05, "xPayout": 5, "tickIndex": 12}]',
        '["currentSidebetResult", {"id": "sb1", "gameId": "g", "playerId": "did:privy:p1", "type": "won", '
        '"payout": 0.25, "profit": 0.2}]',
        '["gameStateUpdate", {"gameId": "g", "tickCount": 5, "price": 1.25, "active": true, "cooldownTimer": 0, '
        '"leaderboard": [{"username": "no id", "pnl": 1}, {"id": "did:privy:p1", "positionQty": 3, '
        '"avgCost": 1.2, "totalInvested": 3.6, "pnl": 0.3, "hasActiveTrades": true, "position": 1}]}]',
    ]
    write_records(paths, [_rec(i, ts + i * 1_000, r, "odd") for i, r in enumerate(raws)], "odd")


def build(paths: DataPaths) -> None:
    events = fixture_events()
    auth, samples = events[-len(AUTH):], events[:-len(AUTH)]
    land(paths, fixture_records("samples", samples), "samples")
    land(paths, fixture_records("samples-2", samples), "samples-2")  # a second client on the same feed
    sample_recs = fixture_records("samples", samples)
    land(paths, sample_recs[40:90], "samples-overlap")  # the same session's rows landed again
    land(paths, fixture_records("auth", auth), "auth")
    import_legacy([FIXTURES / "legacy" / "rugs_recordings"], paths, legacy_root=FIXTURES / "legacy" / "rugs_recordings")
    bench_games(paths)
    own_orders(paths)
    odd_rows(paths)


def _canon(value: object) -> object:
    if isinstance(value, list):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, int | str | bool) or value is None:
        return value
    return f"{type(value).__name__}:{value}"  # Decimal, datetime: exact text with its type


def digest(path: Path) -> dict:
    table = pq.read_table(path)
    rows = sorted(json.dumps(_canon(r), sort_keys=True) for r in table.to_pylist())
    h = hashlib.sha256(str(table.schema).encode())
    for r in rows:
        h.update(r.encode() + b"\n")
    return {"rows": len(rows), "sha256": h.hexdigest()}


def outputs(paths: DataPaths) -> dict:
    out: dict = {}
    for date in raw_dates(paths):
        for r in derive_date(paths, date):
            meta = {k: v for k, v in r.metadata().items() if k != "seconds"}
            out[f"{r.table} {date}"] = {"metadata": meta, **(digest(r.path) if r.path else {"rows": None})}
    # every date once more, in reverse: games now sees the next date's typed tables
    for date in reversed(raw_dates(paths)):
        for r in derive_date(paths, date):
            out[f"{r.table} {date}"]["rerun"] = digest(r.path) if r.path else None
    return out


def test_typed_outputs_equal_the_golden_set(tmp_path: Path) -> None:
    paths = DataPaths(tmp_path / "data")
    build(paths)
    got = outputs(paths)
    assert set(TYPED_SCHEMAS) == set(TABLES)
    if os.environ.get("VECTRA_WRITE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert sorted(got) == sorted(want)
    diffs = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
    assert not diffs, json.dumps(diffs, indent=1)[:4000]
    # the dataset exercises what it claims to
    assert len(raw_dates(paths)) >= 4
    meta = {k: v["metadata"] for k, v in got.items()}
    assert any(m.get("keys_of_previous_date") for m in meta.values())
    assert any(m.get("raw_duplicates") for m in meta.values())
    assert any(m.get("decimal_failures") for m in meta.values())
    assert any(m.get("invalid_json_rows") for m in meta.values())
