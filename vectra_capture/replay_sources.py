"""Recordings -> the events a real server would have emitted, in order.

Inputs (detected per file): raw feed samples `{timestamp, event_type, data}`, raw captures
`{seq, ts, event, data}`, legacy game/session JSONL (ticks become gameStateUpdate payloads) and
our own ws_event Parquet (re-emitted as recorded: replay mode).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

RECORDING_TZ = ZoneInfo("America/New_York")  # legacy and sample timestamps are naive local time


@dataclass(slots=True)
class ReplayEvent:
    ts: float | None  # seconds since the epoch, for pacing
    event_name: str
    args: list[Any]


@dataclass
class Recording:
    events: list[ReplayEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count


def _local_ts(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=RECORDING_TZ)).timestamp()


def feed_args(data: Any) -> list[Any]:
    """A recorded `data` as the server's argument list: a [trace, payload] pair stays two args."""
    if isinstance(data, list) and len(data) == 2 and isinstance(data[0], dict) and "__trace" in data[0]:
        return list(data)
    return [data]


def legacy_tick_payload(rec: dict[str, Any]) -> dict[str, Any]:
    """A legacy tick record as the gameStateUpdate it was recorded from. Cooldown/presale
    placeholders (not active, cooldown timer running) carry no play fields, as on the wire."""
    phase = rec.get("phase")
    payload: dict[str, Any] = {
        "gameId": rec.get("game_id"),
        "cooldownTimer": rec.get("cooldown_timer", 0),
        "cooldownPaused": False,
        "allowPreRoundBuys": phase == "PRESALE",
        "leaderboard": [],
    }
    if rec.get("active") or rec.get("rugged") or not rec.get("cooldown_timer"):
        payload.update(
            active=rec.get("active"), rugged=rec.get("rugged"), price=rec.get("price"),
            tickCount=rec.get("tick"), tradeCount=rec.get("trade_count"),
        )
    return payload


def _sniff(path: Path) -> str:
    if path.suffix == ".parquet":
        return "parquet"
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                first = json.loads(line)
            except ValueError:
                continue
            if not isinstance(first, dict):
                break
            if "event_type" in first:
                return "raw_sample"
            if "event" in first and "data" in first:
                return "raw_capture"
            if "type" in first or "_metadata" in first or "tick" in first:
                return "legacy"
            break
    raise ValueError(f"{path}: not a recording format vectra knows (raw sample, raw capture, legacy, Parquet)")


def _load_jsonl(path: Path, kind: str, out: Recording) -> None:
    name_key, ts_key = ("event_type", "timestamp") if kind == "raw_sample" else ("event", "ts")
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                out.skipped["unparseable line"] += 1
                continue
            if kind == "legacy":
                if isinstance(rec, dict) and (rec.get("type") == "tick" or ("tick" in rec and "type" not in rec)):
                    out.events.append(ReplayEvent(_local_ts(rec.get("timestamp")), "gameStateUpdate", [legacy_tick_payload(rec)]))
                else:
                    out.skipped["legacy bookkeeping record"] += 1
            elif isinstance(rec, dict) and isinstance(rec.get(name_key), str) and rec.get("direction", "received") == "received":
                out.events.append(ReplayEvent(_local_ts(rec.get(ts_key)), rec[name_key], feed_args(rec.get("data"))))
            else:
                out.skipped["not a received event"] += 1


def _load_parquet(path: Path, out: Recording) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["ts", "seq", "event_name", "direction", "raw_json"])
    rows = sorted(table.to_pylist(), key=lambda r: (r["ts"], r["seq"]))
    for row in rows:
        if row["direction"] != "received" or row["event_name"] == "__ack__":
            out.skipped["sent frame or ack"] += 1
            continue
        frame = json.loads(row["raw_json"])
        out.events.append(ReplayEvent(row["ts"].timestamp(), frame[0], frame[1:]))


def load_recordings(paths: list[Path]) -> Recording:
    """Every event of the given files and folders (recursively), in file order."""
    files: list[Path] = []
    for p in paths:
        files += sorted(f for f in p.rglob("*") if f.suffix in {".jsonl", ".parquet"}) if p.is_dir() else [p]
    out = Recording()
    for f in files:
        kind = _sniff(f)
        if kind == "parquet":
            _load_parquet(f, out)
        else:
            _load_jsonl(f, kind, out)
    if out.skipped:
        log.info("recordings: %d events, skipped %s", len(out.events), dict(out.skipped))
    return out
