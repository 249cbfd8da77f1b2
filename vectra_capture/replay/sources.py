"""Recordings -> the events a real server would have emitted, in order.

JSONL recordings of every legacy format (raw feed samples, raw captures, game/session files, the
old header format) are read with the legacy reader, corrupt lines salvaged as in the import; legacy
ticks become the gameStateUpdate payloads they were recorded from. Our own ws_event Parquet is
re-emitted as recorded (replay mode). Single-event JSON captures (`{seq, ts, event, data}`, one
pretty-printed object per `.json` file, as in the authenticated examples) are replayed in `seq` order.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from vectra_capture.frames import socketio_args
from vectra_capture.legacy.formats import UNKNOWN
from vectra_capture.legacy.reader import read_legacy_file
from vectra_capture.legacy.timestamps import to_utc_us

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayEvent:
    ts: float | None  # seconds since the epoch, for pacing
    event_name: str
    args: list[Any]


@dataclass
class Recording:
    events: list[ReplayEvent] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count


def legacy_tick_payload(rec: dict[str, Any]) -> dict[str, Any]:
    """A legacy tick record as the gameStateUpdate it was recorded from. Cooldown/presale
    placeholders (not active, cooldown timer running) carry no play fields, as on the wire."""
    payload: dict[str, Any] = {
        "gameId": rec.get("game_id"),
        "cooldownTimer": rec.get("cooldown_timer", 0),
        "cooldownPaused": False,
        "allowPreRoundBuys": rec.get("phase") == "PRESALE",
        "leaderboard": [],
    }
    if rec.get("active") or rec.get("rugged") or not rec.get("cooldown_timer"):
        payload.update(
            active=rec.get("active"), rugged=rec.get("rugged"), price=rec.get("price"),
            tickCount=rec.get("tick"), tradeCount=rec.get("trade_count"),
        )
    return payload


def _load_jsonl(path: Path, out: Recording) -> None:
    legacy = read_legacy_file(path, path.parent)
    if legacy.format == UNKNOWN:
        raise ValueError(f"{path}: not a recording format vectra knows ({legacy.detail})")
    out.skipped["unrecoverable line or fragment"] += len(legacy.quarantined)
    for rec in legacy.records:
        ts = rec.ts_us / 1e6
        if rec.event_name == "legacy.tick":
            out.events.append(ReplayEvent(ts, "gameStateUpdate", [legacy_tick_payload(rec.obj)]))
        elif rec.event_name.startswith("legacy."):
            out.skipped["legacy bookkeeping record"] += 1
        elif rec.direction != "received":
            out.skipped["sent frame"] += 1
        else:
            out.events.append(ReplayEvent(ts, rec.event_name, rec.args))


def _load_parquet(path: Path, out: Recording) -> None:
    table = pq.read_table(path, columns=["ts", "seq", "event_name", "direction", "raw_json"])
    for row in sorted(table.to_pylist(), key=lambda r: (r["ts"], r["seq"])):
        if row["direction"] != "received" or row["event_name"] == "__ack__" or row["event_name"].startswith("legacy."):
            out.skipped["sent frame, ack or legacy record"] += 1
            continue
        frame = json.loads(row["raw_json"])
        out.events.append(ReplayEvent(row["ts"].timestamp(), frame[0], frame[1:]))


def _load_single_events(paths: list[Path], out: Recording) -> None:
    """`{seq, ts, event, data}` files; `data` is a `[trace, payload]` list for traced events."""
    loaded: list[tuple[int, float, ReplayEvent]] = []
    for path in paths:
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a JSON file ({exc})") from exc
        if not isinstance(rec, dict) or not isinstance(rec.get("event"), str) or "data" not in rec:
            raise ValueError(f"{path}: not a single-event capture (needs 'event' and 'data')")
        ts_us = to_utc_us(rec.get("ts"))
        ts = ts_us / 1e6 if ts_us is not None else None
        seq = rec.get("seq") if isinstance(rec.get("seq"), int) else len(loaded)
        loaded.append((seq, ts or 0.0, ReplayEvent(ts, rec["event"], socketio_args(rec["data"]))))
    out.events += [ev for _seq, _ts, ev in sorted(loaded, key=lambda t: (t[0], t[1]))]


def load_recordings(paths: list[Path]) -> Recording:
    """Every event of the given files and folders (recursively), in file order; the `.json`
    single-event captures of one folder (or one argument list) are replayed together, by seq."""
    files: list[Path] = []
    for p in paths:
        files += sorted(f for f in p.rglob("*") if f.suffix in {".jsonl", ".parquet", ".json"}) if p.is_dir() else [p]
    out = Recording()
    singles = [f for f in files if f.suffix == ".json"]
    if singles:
        _load_single_events(singles, out)
    for f in (f for f in files if f.suffix != ".json"):
        if f.suffix == ".parquet" and "doc_type=" in f.as_posix() and "doc_type=ws_event" not in f.as_posix():
            out.skipped["Parquet file that is not ws_event"] += 1
        elif f.suffix == ".parquet":
            _load_parquet(f, out)
        else:
            _load_jsonl(f, out)
    if out.skipped:
        log.info("recordings: %d events, skipped %s", len(out.events), dict(out.skipped))
    return out
