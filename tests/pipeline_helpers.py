"""Raw ws_event data for the pipeline tests, built from the real fixtures, plus independent counts.

`raw_paths(request, tmp_path)` is the one switch: it uses the lead's `captured_raw` fixture (feed ->
daemon -> raw) when conftest.py provides it, else lands the fixture lines as RawRecords in the
contract's raw_json shape through vectra_capture.store.write_records.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from vectra_capture.store import write_records
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.defs.landing.resources import DataRootResource, VectraDuckDBResource

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = FIXTURES / "raw" / "websocket_raw_samples.jsonl"
AUTH = sorted((FIXTURES / "raw" / "auth_examples").glob("*.json"))
LOCAL = ZoneInfo("America/New_York")


def _ts_us(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=LOCAL).timestamp() * 1_000_000)


def args_of(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0]:
        return list(data)
    return [data]


def payload(data: Any) -> Any:
    return args_of(data)[-1]


def fixture_events() -> list[tuple[str, str, Any]]:
    """(local timestamp, event name, data) of every fixture event (samples, then auth examples)."""
    out = []
    for line in SAMPLES.read_text().splitlines():
        rec = json.loads(line)
        out.append((rec["timestamp"], rec["event_type"], rec["data"]))
    for path in AUTH:
        rec = json.loads(path.read_text())
        out.append((rec["ts"], rec["event"], rec["data"]))
    return out


def fixture_records(session: str = "fixture", events: list[tuple[str, str, Any]] | None = None) -> list[RawRecord]:
    session_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vectra-test:{session}"))
    records = []
    for seq, (ts, name, data) in enumerate(events if events is not None else fixture_events()):
        p = payload(data)
        d = p if isinstance(p, dict) else {}
        pid = d.get("playerId") or (d.get("id") if str(d.get("id", "")).startswith("did:privy:") else None)
        records.append(RawRecord(
            "ws_event", _ts_us(ts), seq, "replay", session_id, json.dumps([name, *args_of(data)]).encode(),
            event_name=name, game_id=d.get("gameId"), player_id=pid, username=d.get("username"),
        ))
    return records


def land(paths: DataPaths, records: list[RawRecord], prefix: str) -> None:
    write_records(paths, records, prefix)


def raw_paths(request: pytest.FixtureRequest, tmp_path: Path, captured: bool = True) -> DataPaths:
    """The samples through the capture path (`captured_raw`: feed -> daemon -> raw, copied because
    that fixture is shared and read-only), plus the authenticated examples landed as RawRecords
    (the public replay feed cannot carry them). Without `captured_raw`, or with captured=False, the
    samples are landed as RawRecords too."""
    paths = DataPaths(tmp_path / "data")
    events = fixture_events()
    auth, samples = events[-len(AUTH):], events[:-len(AUTH)]
    source = None
    if captured:
        try:
            source = request.getfixturevalue("captured_raw")
        except pytest.FixtureLookupError:
            source = None
    if source is not None:
        shutil.copytree(source.events_parquet, paths.events_parquet)
    else:
        land(paths, fixture_records("samples", samples), "samples")
    land(paths, fixture_records("auth", auth), "auth")
    return paths


def pipeline_resources(paths: DataPaths, **data_root: object) -> dict:
    """The resources the typed assets and checks run with, on the data root `paths`."""
    return {"data_root": DataRootResource(data_dir=str(paths.root), **data_root), "duckdb": VectraDuckDBResource()}


def raw_dates(paths: DataPaths) -> list[str]:
    return sorted(p.name.split("=", 1)[1] for p in paths.doc_type_dir("ws_event").glob("date=*"))


# -- independent expectations, straight from the fixture files with plain json ----------------
def parsed_events(captured_only: bool) -> list[tuple[str, Any]]:
    """(event name, payload with exact decimals). The capture path replays only the samples file."""
    out = []
    for line in SAMPLES.read_text().splitlines():
        rec = json.loads(line, parse_float=Decimal)
        out.append((rec["event_type"], payload(rec["data"])))
    if not captured_only:
        for path in AUTH:
            rec = json.loads(path.read_text(), parse_float=Decimal)
            out.append((rec["event"], rec["data"]))
    return out


def expected_ticks(events: list[tuple[str, Any]]) -> set[tuple]:
    """A cooldown broadcast (not active, not rugged, cooldownTimer > 0) has no tick of play."""
    def tick(p: dict) -> Any:
        cooling = not p.get("active") and not p.get("rugged") and (p.get("cooldownTimer") or 0) > 0
        return None if cooling else p.get("tickCount")
    return {(p["gameId"], tick(p), p.get("cooldownTimer"), bool(p.get("rugged", False)))
            for n, p in events if n == "gameStateUpdate"}


def expected_trades(events: list[tuple[str, Any]]) -> set[str]:
    return {p["id"] for n, p in events if n == "standard/newTrade"}


def expected_history(events: list[tuple[str, Any]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for n, p in events:
        if n == "gameStateUpdate":
            for entry in p.get("gameHistory") or []:
                out.setdefault(entry["id"], entry)
    return out


def expected_states(events: list[tuple[str, Any]]) -> set[tuple]:
    pos = ("positionQty", "avgCost", "totalInvested", "hasActiveTrades", "sidebetPnl")
    out = set()
    for n, p in events:
        if n == "gameStateUpdate":
            for e in p.get("leaderboard") or []:
                out.add(("leaderboard", e["id"], p["gameId"], *(e.get(k) for k in pos)))
        elif n == "gameStatePlayerUpdate" and p.get("leaderboardEntry"):
            e = p["leaderboardEntry"]
            out.add(("gameStatePlayerUpdate", e["id"], p["gameId"], *(e.get(k) for k in pos)))
        elif n == "playerUpdate":
            out.add(("playerUpdate", p["id"], None, p.get("cash"), *(p.get(k) for k in pos[:3]),
                     p.get("sidebetPnl"), p.get("cumulativePnL"), p.get("pnlPercent")))
    return out
