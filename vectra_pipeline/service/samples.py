"""Real samples of one event: the newest one the live tail has read from the spool, then the newest and
the oldest in the raw Parquet. The payload (the last argument) is shown pretty-printed with every
number exactly as it arrived."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from vectra_pipeline.service.json_text import payload_text, pretty
from vectra_pipeline.service.recent import Frame

if TYPE_CHECKING:
    from vectra_pipeline.service.context import Context

MAX_SAMPLE_CHARS = 64_000  # a gameStateUpdate with gameHistory is ~300 KB; the page shows the start


class Sample(BaseModel):
    origin: Literal["live", "newest", "oldest", "history"]
    ts: datetime
    session_id: str
    seq: int
    source: str
    direction: str
    game_id: str | None
    size: int  # bytes of the whole frame as stored
    payload: str  # pretty-printed JSON text of the payload
    truncated: bool


def _from_text(origin: str, ts: datetime, session_id: str, seq: int, source: str, direction: str,
               game_id: str | None, event_name: str, raw: str) -> Sample:
    text, cut = pretty(payload_text(event_name, raw), MAX_SAMPLE_CHARS)
    return Sample(origin=origin, ts=ts, session_id=session_id, seq=seq, source=source, direction=direction,
                  game_id=game_id, size=len(raw.encode()), payload=text, truncated=cut)


def _from_frame(frame: Frame) -> Sample:
    text, cut = pretty(frame.payload or "null", MAX_SAMPLE_CHARS)
    return Sample(origin="live", ts=frame.ts, session_id=frame.session_id, seq=frame.seq, source=frame.source,
                  direction=frame.direction, game_id=frame.game_id, size=frame.size, payload=text, truncated=cut)


def _rows(ctx: Context, file: Path, name: str, newest: bool, limit: int) -> list[tuple]:
    order = "DESC" if newest else "ASC"
    return ctx.execute(
        f"SELECT ts, session_id, seq, source, direction, game_id, raw_json FROM read_parquet(?) "
        f"WHERE event_name = ? ORDER BY ts {order}, session_id {order}, seq {order} LIMIT ?",
        [str(file), name, limit])


def samples_of(ctx: Context, name: str, files: list[tuple[Path, datetime, datetime]], n: int = 3) -> list[Sample]:
    """Up to `n` (at least 3 when the data has them) distinct samples: live, newest, oldest, then more of
    the newest file. `files` are the raw files holding the event with its first/last ts in each."""
    out: list[Sample] = []
    seen: set[tuple[str, int]] = set()

    def add(sample: Sample) -> None:
        if (sample.session_id, sample.seq) not in seen and len(out) < n:
            seen.add((sample.session_id, sample.seq))
            out.append(sample)

    ctx.tail.poll()
    live = ctx.tail.latest(name)
    if live is not None:
        add(_from_frame(live))
    existing = [f for f in files if f[0].exists()]
    if existing:
        newest = max(existing, key=lambda f: (f[2], str(f[0])))
        oldest = min(existing, key=lambda f: (f[1], str(f[0])))
        fresh = _rows(ctx, newest[0], name, True, n)
        for row in fresh[:1]:
            add(_from_text("newest", *row[:6], name, row[6]))
        for row in _rows(ctx, oldest[0], name, False, 1):
            add(_from_text("oldest", *row[:6], name, row[6]))
        for row in fresh[1:]:
            add(_from_text("history", *row[:6], name, row[6]))
    return out
