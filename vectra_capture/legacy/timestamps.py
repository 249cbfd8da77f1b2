"""Legacy timestamps as UTC microseconds since the epoch.

Naive values (the common case, ``2025-10-31T15:05:33.638139``) are America/New_York local time,
converted with zoneinfo, so both sides of the 2025-11-02 DST change are right. The fall-back hour
01:00-01:59 happens twice that night; a recording's time never runs backwards, so an ambiguous time
is read as EDT unless that would put it before the file's previous record, then as EST.
Values with an offset are honoured; numbers are epoch seconds, milliseconds or microseconds by
magnitude. A gameId's ``YYYYMMDD-`` prefix is a UTC date (`game_id_day`).
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("America/New_York")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

RECORD_TS_KEYS = ("timestamp", "ts", "time")  # where a record keeps its time, first found wins
HEADER_TS_KEYS = ("timestamp", "ts", "start_time", "started_at", "recorded_at", "created_at", "end_time")
_GAME_ID_DATE = re.compile(r"^(\d{8})-")


def to_utc_us(value: Any, after: int | None = None) -> int | None:
    """A legacy timestamp as UTC microseconds; None when it is not a timestamp. `after`: the previous
    record's UTC time in the same file, which decides how an ambiguous fall-back local time is read."""
    if isinstance(value, str):
        fast = naive_local_us(value, after)
        return fast if fast is not None else _iso_to_utc_us(value, after)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        v = float(value)
        if v > 1e17:
            return None
        scale = 1 if v > 1e14 else 1_000 if v > 1e11 else 1_000_000
        return int(round(v * scale))
    return None


def first_timestamp(obj: dict[str, Any], keys: tuple[str, ...], after: int | None = None) -> int | None:
    """The first of `keys` in `obj` that holds a usable timestamp, as UTC microseconds."""
    for key in keys:
        if key in obj:
            ts = to_utc_us(obj[key], after)
            if ts is not None:
                return ts
    return None


def _both_readings(naive: datetime) -> tuple[int, int]:
    """UTC microseconds of a naive New York time read with fold=0 and with fold=1 (equal unless the
    time is ambiguous or skipped on a DST night)."""
    early = naive.replace(tzinfo=LOCAL_TZ, fold=0)
    late = naive.replace(tzinfo=LOCAL_TZ, fold=1)
    return (early - EPOCH) // ONE_US, (late - EPOCH) // ONE_US


def _choose_reading(early: int, late: int, after: int | None) -> int:
    """fold=0 (EDT) unless the time is ambiguous and fold=0 would go back before the previous record:
    time never runs backwards within one recording, so it is the second (EST) pass."""
    if late > early and after is not None and early < after:
        return late
    return early


def _iso_to_utc_us(value: str, after: int | None = None) -> int | None:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return _choose_reading(*_both_readings(dt), after)
    return (dt - EPOCH) // ONE_US


# Naive "YYYY-MM-DDTHH:MM:SS[.ffffff]" is the common case: the UTC offset is constant within one wall
# clock minute, so the minute's UTC start is computed once and cached, and so is each second's
# (a dict lookup per record: the fraction is all that is left to parse). Minutes that are ambiguous or
# skipped on a DST night are never cached: their reading depends on the previous record (`after`).
_MINUTE_CACHE: dict[str, int | None] = {}
_MINUTE_CACHE_MAX = 500_000
_SECOND_CACHE: dict[str, int] = {}  # "YYYY-MM-DDTHH:MM:SS" -> its UTC microseconds (valid, unambiguous only)
_SECOND_CACHE_MAX = 500_000


def naive_local_us(value: str, after: int | None = None) -> int | None:
    """The fast path for naive ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` New York times; None for any other
    shape (the caller falls back to `to_utc_us`)."""
    n = len(value)
    if n == 26:
        frac = value[20:]
        if value[19] != "." or not frac.isdigit():
            return None
        second = value[:19]
        start = _SECOND_CACHE.get(second)
        if start is None:
            return _naive_second_us(second, after, int(frac))
        return start + int(frac)
    if n == 19:
        start = _SECOND_CACHE.get(value)
        return start if start is not None else _naive_second_us(value, after, 0)
    return None


def _naive_second_us(second: str, after: int | None, frac_us: int) -> int | None:
    """A naive ``YYYY-MM-DDTHH:MM:SS`` (+ `frac_us`) as UTC microseconds, None if it is not one; caches
    the second when its reading does not depend on `after`."""
    minute = second[:16]
    start = _MINUTE_CACHE.get(minute, -1)
    late = None
    if start == -1:
        if len(_MINUTE_CACHE) > _MINUTE_CACHE_MAX:
            _MINUTE_CACHE.clear()
        start = None
        if minute[10] == "T" and minute[:4].isdigit():
            with contextlib.suppress(ValueError):  # e.g. month 13: not a timestamp
                start, late = _both_readings(datetime.fromisoformat(minute + ":00"))
        if late == start:
            _MINUTE_CACHE[minute] = start
            late = None
    if start is None or second[16] != ":":
        return None
    sec = second[17:19]
    if not sec.isdigit() or sec > "59":
        return None
    offset = int(sec) * 1_000_000
    if late is not None:
        return _choose_reading(start + offset + frac_us, late + offset + frac_us, after)
    if len(_SECOND_CACHE) > _SECOND_CACHE_MAX:
        _SECOND_CACHE.clear()
    _SECOND_CACHE[second] = start + offset
    return start + offset + frac_us


_GAME_DAY_CACHE: dict[str, int | None] = {}
_GAME_DAY_CACHE_MAX = 100_000


def game_id_day(game_id: str) -> int | None:
    """Days since the epoch of a gameId's UTC date prefix (None if it has none)."""
    day = _GAME_DAY_CACHE.get(game_id, -1)
    if day == -1:
        m = _GAME_ID_DATE.match(game_id)
        try:
            d = datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC) if m else None
        except ValueError:
            d = None
        day = (d - EPOCH).days if d else None
        if len(_GAME_DAY_CACHE) > _GAME_DAY_CACHE_MAX:
            _GAME_DAY_CACHE.clear()
        _GAME_DAY_CACHE[game_id] = day
    return day
