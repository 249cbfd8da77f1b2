"""Debug notes: stored as canonical Parquet through the store, then indexed into debug_notes."""

from __future__ import annotations

from pydantic import BaseModel

from vectra_capture.store import LockHeld, write_debug_note
from vectra_pipeline.index.build import build_table
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest

NOTE_MAX = 20_000


class NoteResult(BaseModel):
    stored: str  # path under the data root
    embedded: int
    deferred: str | None = None  # why it is not indexed yet (the next build will)


def add_note(ctx: Context, text: str, index: bool = True) -> NoteResult:
    text = (text or "").strip()
    if not text:
        raise BadRequest("empty note")
    if len(text) > NOTE_MAX:
        raise BadRequest(f"the note is {len(text)} characters; at most {NOTE_MAX}")
    path = write_debug_note(ctx.paths, text)
    out = NoteResult(stored=path.relative_to(ctx.paths.root).as_posix(), embedded=0)
    if index:
        try:
            out.embedded = build_table(ctx.paths, "debug_notes", full=False).embedded
        except LockHeld:
            out.deferred = "another index build is running; the note will be indexed by the next build"
    return out
