"""One legacy record (`LegacyRecord`, or its lean `Row` tuple) and the per-format rules that make one
from a parsed line (`RecordBuilder`), or say why the line is not a record."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vectra_capture.frames import envelope_ids, socketio_args
from vectra_capture.legacy.formats import FEED_SAMPLE, GAME, HEADER, is_header_line
from vectra_capture.legacy.timestamps import (
    EPOCH,
    HEADER_TS_KEYS,
    ONE_US,
    RECORD_TS_KEYS,
    first_timestamp,
    naive_local_us,
    to_utc_us,
)

NO_TIME = -1  # ts_us of a header line without its own time; once the file is read, it takes a neighbour's

# A lean record: only its row's values, one tuple (the importer keeps hundreds of thousands; a tuple
# costs a tenth of a LegacyRecord to make). Its seq is its position in the file's list of rows.
Row = tuple[int, int, str, str | None, str | None, str | None, str, str]
ROW_FIELDS = ("ts_us", "line_no", "event_name", "game_id", "player_id", "username", "direction", "raw_json")
TS, LINE_NO, EVENT_NAME, GAME_ID, PLAYER_ID, USERNAME, DIRECTION, RAW_JSON = range(len(ROW_FIELDS))


@dataclass(slots=True)
class LegacyRecord:
    """One record of a legacy file, in file order."""

    index: int  # running record index inside the file (0, 1, 2, ...): the row's seq
    line_no: int  # 1-based physical line
    ts_us: int  # UTC microseconds since the epoch
    kind: str  # the record's own name: type ("tick"), "metadata", or the event name
    event_name: str  # the canonical ws_event name: "legacy.tick", or the real event name
    obj: dict[str, Any] | None  # the whole parsed record (None in lean records: read_legacy_file)
    payload: Any  # game/header: the record itself; feed/capture: the event payload (last argument)
    args: list[Any]  # the Socket.IO arguments (feed/capture); [] for game/header records
    text: str  # the record's JSON text exactly as in the file (a salvaged record: its fragment)
    salvaged: bool = False
    game_id: str | None = None
    player_id: str | None = None
    username: str | None = None
    direction: str = "received"

    @property
    def ts(self) -> datetime:
        return EPOCH + self.ts_us * ONE_US

    def raw_json(self) -> str:
        """The row's raw_json: the record's text for game/header formats (there was no frame), the
        Socket.IO array ``[event_name, *args]`` for feed samples and captures, like a live frame."""
        return frame_json(self.event_name, self.args) if self.args else self.text

    def row(self) -> Row:
        return (self.ts_us, self.line_no, self.event_name, self.game_id, self.player_id, self.username,
                self.direction, self.raw_json())


def frame_json(event_name: str, args: list[Any]) -> str:
    return json.dumps([event_name, *args], separators=(",", ":"), ensure_ascii=False)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class RecordBuilder:
    """Turns the parsed objects of one file, in file order, into LegacyRecords (or a reason they are
    not records). Keeps the file's state: the header's game id and the previous record's time.

    `lean`: `build` gives each record's `Row` instead (the importer: no parsed dicts are kept, no
    object is made per record). Both come from the same per-format rule, which makes the Row; lean,
    `build` IS the rule (no wrapper call per record: this is the import's hot path)."""

    def __init__(self, fmt: str, lean: bool = False) -> None:
        self.fmt = fmt
        self.lean = lean
        self.header_game_id: str | None = None
        self.prev_ts: int | None = None  # the last record's UTC time: places ambiguous DST times
        self._rule: Callable[[Any, str, int, bool], Row | str] = (
            self._game if fmt == GAME else self._header if fmt == HEADER else self._event)
        # game/header records are named `legacy.<kind>` and had no frame; feed/capture records are events
        self._prefix = len("legacy.") if fmt in (GAME, HEADER) else 0
        self.build: Callable[[Any, str, int, bool], LegacyRecord | Row | str] = (
            self._rule if lean else self._record)

    def _record(self, obj: Any, text: str, line_no: int, salvaged: bool) -> LegacyRecord | str:
        row = self._rule(obj, text, line_no, salvaged)
        if type(row) is str:
            return row
        name = row[EVENT_NAME]
        if self._prefix:
            payload, args = obj, []
        else:
            args = socketio_args(obj.get("data"))
            payload = args[-1]
        return LegacyRecord(0, line_no, row[TS], name[self._prefix:], name, obj, payload, args, text, salvaged,
                            row[GAME_ID], row[PLAYER_ID], row[USERNAME], row[DIRECTION])

    def _not_a_record(self, obj: Any) -> str:
        return f"valid JSON but not a {self.fmt} record (a {type(obj).__name__})"

    def _game(self, obj: Any, text: str, line_no: int, salvaged: bool) -> Row | str:
        if type(obj) is not dict:
            return self._not_a_record(obj)
        kind = obj.get("type")
        if type(kind) is not str:
            return "valid JSON but not a game record (no string 'type')"
        ts_value = obj.get("timestamp")
        ts = naive_local_us(ts_value, self.prev_ts) if type(ts_value) is str else None
        if ts is None:
            ts = first_timestamp(obj, RECORD_TS_KEYS, self.prev_ts)
            if ts is None:
                return "game record without a usable timestamp"
        if ts >= 0:
            self.prev_ts = ts
        gid = obj.get("game_id") or obj.get("gameId")
        return (ts, line_no, "legacy." + kind, gid if type(gid) is str else None, None, None, "received", text)

    def _header(self, obj: Any, text: str, line_no: int, salvaged: bool) -> Row | str:
        if type(obj) is not dict:
            return self._not_a_record(obj)
        if is_header_line(obj):
            meta = obj["_metadata"]
            meta = meta if isinstance(meta, dict) else {}
            gid = _str_or_none(meta.get("game_id", meta.get("gameId")))
            if gid is not None:
                self.header_game_id = gid
            ts = first_timestamp(meta, HEADER_TS_KEYS, self.prev_ts)
            # A header without its own time takes its neighbour's (fixed up once the file is read).
            if ts is None:
                ts = NO_TIME
            name = "legacy.metadata"
        else:
            ts = first_timestamp(obj, RECORD_TS_KEYS, self.prev_ts)
            if ts is None:
                return "tick record without a usable timestamp"
            gid = _str_or_none(obj.get("game_id", obj.get("gameId", self.header_game_id)))
            name = "legacy.tick"
        if ts >= 0:
            self.prev_ts = ts
        return (ts, line_no, name, gid, None, None, "received", text)

    def _event(self, obj: Any, text: str, line_no: int, salvaged: bool) -> Row | str:
        """Feed samples and captures: one Socket.IO event each; raw_json is the frame (lean only)."""
        if type(obj) is not dict:
            return self._not_a_record(obj)
        fmt = self.fmt
        if fmt == FEED_SAMPLE:
            name, ts_value = obj.get("event_type"), obj.get("timestamp")
        else:  # CAPTURE
            name, ts_value = obj.get("event"), obj.get("ts")
        if not isinstance(name, str) or "data" not in obj and fmt == FEED_SAMPLE:
            return f"valid JSON but not a {fmt} record (no event name/data)"
        ts = to_utc_us(ts_value, self.prev_ts)
        if ts is None:
            return f"{fmt} record without a usable timestamp"
        if ts >= 0:
            self.prev_ts = ts
        args = socketio_args(obj.get("data"))
        gid, pid, user = envelope_ids(args[-1])
        direction = obj.get("direction")
        return (ts, line_no, name, gid, pid, user, direction if direction in ("received", "sent") else "received",
                frame_json(name, args) if self.lean else text)
