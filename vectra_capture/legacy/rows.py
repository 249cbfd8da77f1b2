"""A read legacy file as Arrow tables, one per UTC date: ws_event rows (source=replay) for its
records, quarantine rows for its quarantined lines and fragments. The file must have been read lean
(`read_legacy_file(keep_objects=False)`): its records are `Row` tuples, transposed into columns."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import TypeVar

import pyarrow as pa

from vectra_capture.legacy.reader import LegacyFile, QuarantineItem
from vectra_capture.legacy.records import LINE_NO, TS
from vectra_capture.store.envelope import QUARANTINE_SCHEMA, WS_EVENT_SCHEMA
from vectra_capture.store.partitions import US_PER_DAY, json_text_array, text_array, utc_date

SOURCE = "replay"
DOC_TYPE = "ws_event"

T = TypeVar("T")


def _by_utc_date(items: list[T], ts_us: Callable[[T], int]) -> dict[str, list[T]]:
    """date -> items of that UTC date, in order; dates sorted."""
    by_day: dict[int, list[T]] = {}
    for item in items:
        by_day.setdefault(ts_us(item) // US_PER_DAY, []).append(item)
    return {utc_date(day * US_PER_DAY): by_day[day] for day in sorted(by_day)}


def _ts_column(values: Sequence[int], schema: pa.Schema) -> pa.Array:
    # int64, then viewed as the timestamp type (same bits): converting Python ints straight to a
    # timestamp array is 20x slower, and a cast would load pyarrow.compute (and pandas, ~1 s)
    return pa.array(values, type=pa.int64()).view(schema.field("ts").type)


_SEQ = pa.array(range(4096), type=pa.int64())  # 0, 1, 2, ...: seq of a file's rows, sliced (no copy)


def _seq(n: int) -> pa.Array:
    global _SEQ
    if n > len(_SEQ):
        _SEQ = pa.array(range(max(n, 2 * len(_SEQ))), type=pa.int64())
    return _SEQ.slice(0, n)


def _same(value: str | None, n: int) -> pa.Array:
    """A string column holding one value n times (cleaned like any text: a file name may hold a lone
    surrogate)."""
    return pa.nulls(n, pa.string()) if value is None else pa.repeat(text_array([value])[0], n)


def _text(values: tuple[str | None, ...]) -> pa.Array:
    """A string column; one repeated value (game files state no player, username or direction) is
    not converted value by value."""
    first = values[0]
    return _same(first, len(values)) if values.count(first) == len(values) else text_array(values)


_WS_FIELDS = [(f.name, f.type) for f in WS_EVENT_SCHEMA]


def _day_rows(ts: Sequence[int]) -> list[tuple[str, pa.Array | None]]:
    """(date, row indices of that UTC date in order; None: every row) per date, dates sorted. A file
    nearly always lies within one date (its first and last day agree), then its columns are used as
    they are."""
    first = min(ts) // US_PER_DAY
    if first == max(ts) // US_PER_DAY:
        return [(utc_date(first * US_PER_DAY), None)]
    by_day: dict[int, list[int]] = {}
    for i, t in enumerate(ts):
        by_day.setdefault(t // US_PER_DAY, []).append(i)
    return [(utc_date(day * US_PER_DAY), pa.array(by_day[day], type=pa.int64())) for day in sorted(by_day)]


def ws_event_tables(lf: LegacyFile, session_id: str) -> dict[str, pa.Table]:
    """date -> WS_EVENT table of the file's records. The file's columns are built once, then split."""
    n = len(lf.rows)
    if not n:
        return {}
    ts, line_no, event_name, game_id, player_id, username, direction, raw_json = zip(*lf.rows, strict=True)
    cols = {
        "ts": _ts_column(ts, WS_EVENT_SCHEMA),
        "source": _same(SOURCE, n),
        "doc_type": _same(DOC_TYPE, n),
        "session_id": _same(session_id, n),
        "game_id": text_array(game_id),
        "player_id": _text(player_id),
        "username": _text(username),
        "seq": _seq(n),
        "direction": _text(direction),
        "raw_json": json_text_array(raw_json),
        "event_name": text_array(event_name),
        "origin_file": _same(lf.rel, n),
        "origin_line": pa.array(line_no, type=pa.int64()),
    }
    # columns legacy lines never state (namespace, ack_id...): null
    table = pa.Table.from_arrays(
        [cols[name] if name in cols else pa.nulls(n, type_) for name, type_ in _WS_FIELDS], schema=WS_EVENT_SCHEMA)
    return {date: table if rows is None else table.take(rows)
            for date, rows in _day_rows(ts)}


def quarantine_tables(lf: LegacyFile, session_id: str) -> dict[str, pa.Table]:
    """date -> QUARANTINE table. A quarantined line takes the time of the record before it (else
    after it; a file without records: its mtime) so it lands next to its neighbours."""
    if not lf.quarantined:
        return {}
    lines = [r[LINE_NO] for r in lf.rows]
    rows: list[tuple[int, int, QuarantineItem]] = []  # (ts_us, seq, item)
    for seq, item in enumerate(lf.quarantined):
        if lines:
            i = bisect.bisect_right(lines, item.line_no) - 1
            ts = lf.rows[max(i, 0)][TS]
        else:
            ts = lf.mtime_ns // 1000
        rows.append((ts, seq, item))
    tables: dict[str, pa.Table] = {}
    for date, day_rows in _by_utc_date(rows, lambda r: r[0]).items():
        n = len(day_rows)
        cols = {
            "ts": _ts_column([ts for ts, _, _ in day_rows], QUARANTINE_SCHEMA),
            "source": text_array([SOURCE] * n),
            "session_id": text_array([session_id] * n),
            "seq": pa.array([seq for _, seq, _ in day_rows], type=pa.int64()),
            "origin": text_array([f"{lf.rel}:{item.line_no}" for _, _, item in day_rows]),
            "reason": text_array([item.reason for _, _, item in day_rows]),
            "raw": pa.array([item.raw for _, _, item in day_rows], type=pa.binary()),
        }
        tables[date] = pa.Table.from_arrays([cols[f.name] for f in QUARANTINE_SCHEMA], schema=QUARANTINE_SCHEMA)
    return tables
