"""Helpers for the vector tests: fixture events as raw ws_event Parquet (contract shape), one model."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from vectra_capture.store import write_records
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
RAW_SAMPLES = FIXTURES / "raw" / "websocket_raw_samples.jsonl"
AUTH_DIR = FIXTURES / "raw" / "auth_examples"
NY = ZoneInfo("America/New_York")


def _ts_us(naive_local: str) -> int:
    local = datetime.fromisoformat(naive_local).replace(tzinfo=NY)
    return int(local.timestamp() * 1_000_000)


def _args(data: object) -> list:
    if isinstance(data, list) and data and isinstance(data[0], dict) and data[0].get("__trace"):
        return data
    return [data]


def _ids(payload: object) -> dict:
    if not isinstance(payload, dict):
        return {}
    pid = payload.get("playerId")
    if pid is None and str(payload.get("id", "")).startswith("did:privy:"):
        pid = payload["id"]
    return {"game_id": payload.get("gameId"), "player_id": pid, "username": payload.get("username")}


def fixture_records() -> list[RawRecord]:
    """websocket_raw_samples.jsonl + auth_examples as replayed ws_event rows (raw_json = [name, *args])."""
    records: list[RawRecord] = []
    samples = [json.loads(line) for line in RAW_SAMPLES.read_text().splitlines() if line.strip()]
    session = str(uuid.uuid5(uuid.NAMESPACE_URL, "vectra-legacy:raw/websocket_raw_samples.jsonl"))
    for i, s in enumerate(samples):
        args = _args(s["data"])
        raw = json.dumps([s["event_type"], *args]).encode()
        records.append(RawRecord("ws_event", _ts_us(s["timestamp"]), i, "replay", session, raw,
                                 event_name=s["event_type"], origin_file="raw/websocket_raw_samples.jsonl",
                                 origin_line=i + 1, **_ids(args[-1])))
    for path in sorted(AUTH_DIR.glob("*.json")):
        rec = json.loads(path.read_text())
        args = _args(rec["data"])
        session_a = str(uuid.uuid5(uuid.NAMESPACE_URL, f"vectra-legacy:raw/auth_examples/{path.name}"))
        records.append(RawRecord("ws_event", _ts_us(rec["ts"]), 0, "cdp", session_a,
                                 json.dumps([rec["event"], *args]).encode(), event_name=rec["event"],
                                 origin_file=f"raw/auth_examples/{path.name}", origin_line=1, **_ids(args[-1])))
    return records


def write_fixture_raw(paths: DataPaths) -> list[Path]:
    """Land the fixture records as raw Parquet through the store; one file set per session."""
    by_session: dict[str, list[RawRecord]] = {}
    for rec in fixture_records():
        by_session.setdefault(rec.session_id, []).append(rec)
    written: list[Path] = []
    for session, recs in sorted(by_session.items()):
        written += write_records(paths, recs, f"fixture-{session[:8]}")
    return written


def sample_events() -> list[dict]:
    return [json.loads(line) for line in RAW_SAMPLES.read_text().splitlines() if line.strip()]
