"""The protocol catalog as data: every event name seen in the raw data or known to the catalog/models,
with its direction, login need, counts, first/last seen, fields, drift and verification status.

Statistics per raw ws_event file come from protocol_stats.py (the vector index's statistics and cache)
and are remembered per file in the process (filememo.py), so a page over a month reads only new files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from vectra_capture.protocol.catalog import CATALOG, STATUSES, set_status, status_of
from vectra_capture.protocol.models import MODELS, known_fields
from vectra_pipeline.service import protocol_stats
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest, NotFound
from vectra_pipeline.service.samples import Sample, samples_of

JSON_TYPES = {"VARCHAR": "string", "BIGINT": "integer", "UBIGINT": "integer", "DOUBLE": "number",
              "BOOLEAN": "boolean", "OBJECT": "object", "ARRAY": "array", "NULL": "null"}
NOTE_MAX = 2000


class FieldInfo(BaseModel):
    name: str
    present: int  # payloads carrying the key
    share: float  # present / payloads (0..1); an array payload counts its first element's keys
    types: dict[str, int]  # JSON type seen -> count
    model_type: str | None  # the model's annotation, None when the model does not know the field
    known: bool | None  # False = drift; None = no model to compare with


class Verification(BaseModel):
    status: Literal["verified", "unverified", "needs-correction"]
    note: str | None = None
    updated_at: str | None = None
    default: bool  # True: nobody set it; it comes from docs/protocol.md's tag


class EventSummary(BaseModel):
    name: str
    known: bool  # in the protocol catalog (docs/protocol.md)
    has_model: bool
    direction: str | None
    access: Literal["public", "logged-in"] | None
    traced: bool | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    verification: Verification
    drift: list[str]  # payload fields seen that the model does not know


class EventDetail(EventSummary):
    meaning: str | None
    facts: list[str]
    source_tag: str | None
    directions_seen: list[str]
    array_payloads: int
    fields: list[FieldInfo]
    samples: list[Sample]


@dataclass
class EventStats:
    n: int = 0
    directions: set[str] = field(default_factory=set)
    arrays: int = 0
    types: dict[str, dict[str, int]] = field(default_factory=dict)
    first: datetime | None = None
    last: datetime | None = None
    files: list[tuple[Path, datetime, datetime]] = field(default_factory=list)  # (file, first, last)


# ---------------------------------------------------------------- statistics


def event_stats(ctx: Context) -> dict[str, EventStats]:
    """Whole-history statistics per event name (treat as read-only: shared until a raw file changes)."""
    files = sorted(ctx.paths.doc_type_dir("ws_event").glob("date=*/*.parquet"))
    return ctx.event_stats.view(files, lambda fs: protocol_stats.compute(ctx.paths, fs), _merge)


def _merge(per_file: dict[Path, list[dict]]) -> dict[str, EventStats]:
    merged: dict[str, EventStats] = {}
    for path, rows in per_file.items():
        for r in rows:
            st = merged.setdefault(r["event_name"], EventStats())
            st.n += r["n"]
            st.directions.update(d for d in r["directions"] if d)
            st.arrays += r["arrays"]
            for key, types in json.loads(r["fields"]).items():
                acc = st.types.setdefault(key, {})
                for jtype, n in types.items():
                    acc[jtype] = acc.get(jtype, 0) + n
            if r["range"]:
                lo, hi = r["range"]
                st.first = lo if st.first is None else min(st.first, lo)
                st.last = hi if st.last is None else max(st.last, hi)
                st.files.append((path, lo, hi))
    return merged


# ---------------------------------------------------------------- models and verification


def _type_name(annotation: Any) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else repr(annotation)
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(\w+)", r"\1", text)  # decimal.Decimal -> Decimal


def model_types(name: str) -> dict[str, str] | None:
    """Field -> annotation of the event's model; None when it has none or takes any payload."""
    model = MODELS.get(name)
    if model is None or not known_fields(model):
        return None
    return {(f.alias or key): _type_name(f.annotation) for key, f in model.model_fields.items()}


def verification(ctx: Context, name: str) -> Verification:
    ver = status_of(ctx.paths, name)
    return Verification(status=ver.status, note=ver.note, updated_at=ver.updated_at, default=ver.updated_at is None)


def _summary(ctx: Context, name: str, st: EventStats | None) -> EventSummary:
    info = CATALOG.get(name)
    types = model_types(name)
    seen = st.types if st else {}
    direction = info.direction if info else (", ".join(sorted(st.directions)) if st and st.directions else None)
    access = None if info is None else ("logged-in" if info.needs_login else "public")
    return EventSummary(
        name=name, known=info is not None, has_model=name in MODELS, direction=direction, access=access,
        traced=info.traced if info else None, count=st.n if st else 0, first_seen=st.first if st else None,
        last_seen=st.last if st else None, verification=verification(ctx, name),
        drift=sorted(k for k in seen if types is not None and k not in types))


def catalog(ctx: Context) -> list[EventSummary]:
    """Every event name seen in raw ws_event data or known to the catalog or the models, by name."""
    stats = event_stats(ctx)
    return [_summary(ctx, name, stats.get(name)) for name in sorted(set(CATALOG) | set(MODELS) | set(stats))]


def event(ctx: Context, name: str, n_samples: int = 3) -> EventDetail:
    """One event in detail: fields with types and presence, real samples, verification. NotFound when the
    name is neither known nor seen."""
    stats = event_stats(ctx)
    st = stats.get(name)
    info = CATALOG.get(name)
    if st is None and info is None and name not in MODELS:
        raise NotFound(f"unknown event {name!r}: not in the protocol catalog, the models or the data")
    types = model_types(name) or {}
    has_model = model_types(name) is not None
    fields: list[FieldInfo] = []
    for key, seen in sorted((st.types if st else {}).items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
        present = sum(seen.values())
        fields.append(FieldInfo(name=key, present=present, share=round(present / st.n, 4),
                                types={JSON_TYPES.get(t, t.lower()): c for t, c in sorted(seen.items())},
                                model_type=types.get(key), known=(key in types) if has_model else None))
    for key in sorted(set(types) - {f.name for f in fields}):  # known to the model, never seen
        fields.append(FieldInfo(name=key, present=0, share=0.0, types={}, model_type=types[key], known=True))
    base = _summary(ctx, name, st)
    return EventDetail(
        **base.model_dump(), meaning=info.meaning if info else None, facts=info.facts if info else [],
        source_tag=info.source_tag if info else None, directions_seen=sorted(st.directions) if st else [],
        array_payloads=st.arrays if st else 0, fields=fields,
        samples=samples_of(ctx, name, st.files if st else [], n_samples))


def verify(ctx: Context, name: str, status: str, note: str | None = None) -> Verification:
    """Record a verification status (manifests/protocol_verification.json, through the store, with the time);
    the next vector index build puts it into the protocol document."""
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise BadRequest(f"the note is {len(note)} characters; at most {NOTE_MAX}")
    if name not in CATALOG and name not in MODELS and name not in event_stats(ctx):
        raise NotFound(f"unknown event {name!r}: not in the protocol catalog, the models or the data")
    with ctx.lock:  # one read-modify-write of the manifest at a time in this process
        set_status(ctx.paths, name, status, note)  # type: ignore[arg-type]
    return verification(ctx, name)
