"""Pydantic validation of raw rows (the models of vectra_capture.protocol.models) for the lower-volume
events; gameStateUpdate (90% of the volume) is checked by an SQL mirror inside game_tick."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from vectra_capture.protocol.models import payload_of, validate_payload


def validate_events(con: duckdb.DuckDBPyConnection, raw: str, events: tuple[str, ...], table: str,
                    where: str = "true") -> int:
    """Validate every raw row of `events`; failing rows go into temp table `table`
    (session_id, seq, event_name, reason). Returns the number of failures."""
    names = ", ".join(f"'{e}'" for e in events)
    reader = con.sql(
        f"SELECT session_id, seq, event_name, raw_json FROM {raw} WHERE event_name IN ({names}) AND {where}"
    ).to_arrow_reader(50_000)
    bad: dict[str, list] = {"session_id": [], "seq": [], "event_name": [], "reason": []}
    for batch in reader:
        cols = batch.to_pydict()
        for sid, seq, name, text in zip(cols["session_id"], cols["seq"], cols["event_name"], cols["raw_json"],
                                        strict=True):
            try:
                ok, reason = validate_payload(name, payload_of(name, text))
            except ValueError as exc:  # not JSON at all
                ok, reason = False, f"invalid JSON: {str(exc)[:200]}"
            if not ok:
                bad["session_id"].append(sid)
                bad["seq"].append(seq)
                bad["event_name"].append(name)
                bad["reason"].append(reason)
    arrow = pa.table(bad, schema=pa.schema([("session_id", pa.string()), ("seq", pa.int64()),
                                            ("event_name", pa.string()), ("reason", pa.string())]))
    con.register(f"{table}_arrow", arrow)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_arrow")
    con.unregister(f"{table}_arrow")
    return arrow.num_rows
