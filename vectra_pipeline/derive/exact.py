"""Exact decimals where DuckDB's JSON functions are not: they read a number as a double, so
`99.99999999999999999` comes back as `100.0`, and TRY_CAST to DECIMAL(38,24) turns values of 1e14 and
more into NULL without a word. Rows whose extracted text is not in raw_json verbatim, or whose cast is
NULL, are re-read here with json.loads(parse_float=Decimal); a value the column cannot hold is a model
failure with its reason."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

import duckdb
import pyarrow as pa

from vectra_pipeline.derive.schemas import DEC_PRECISION, DEC_SCALE, DEC_SQL

_LIMIT = Decimal(10) ** (DEC_PRECISION - DEC_SCALE)
_QUANTUM = Decimal(1).scaleb(-DEC_SCALE)


def _fits(value: Decimal) -> bool:
    try:
        return abs(value) < _LIMIT and value == value.quantize(_QUANTUM)
    except InvalidOperation:
        return False


def exact_decimals(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, tuple[str, list[str]]]
                   ) -> tuple[int, list[str]]:
    """`table` has session_id, seq, raw_json (a frame whose last element is the payload) and, per
    column, its value; columns maps column -> (SQL of the extracted JSON text, payload keys tried in
    order). Fixes the columns of suspect rows in place, deletes the rows holding a value the column
    cannot hold, returns (deleted rows, reasons)."""
    suspect = " OR ".join(f"({text} IS NOT NULL AND ({col} IS NULL OR NOT contains(raw_json, {text})))"
                          for col, (text, _keys) in columns.items())
    rows = con.execute(f"SELECT session_id, seq, raw_json FROM {table} WHERE {suspect}").fetchall()
    fixes: dict[str, list] = {"session_id": [], "seq": [], "col": [], "val": []}
    bad: dict[tuple, str] = {}
    for sid, seq, text in rows:
        try:
            payload = json.loads(text, parse_float=Decimal)[-1]
        except (ValueError, IndexError, KeyError, TypeError):
            continue
        if not isinstance(payload, dict):
            continue
        for col, (_sql, keys) in columns.items():
            value = next((payload[k] for k in keys if payload.get(k) is not None), None)
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                continue
            value = Decimal(value)
            if _fits(value):
                fixes["session_id"].append(sid)
                fixes["seq"].append(seq)
                fixes["col"].append(col)
                fixes["val"].append(str(value))
            else:
                bad[(sid, seq)] = f"{col}={value} does not fit DECIMAL({DEC_PRECISION},{DEC_SCALE})"
    if fixes["col"]:
        con.register("exact_fixes", pa.table(fixes))
        for col in sorted(set(fixes["col"])):
            con.execute(f"""UPDATE {table} t SET {col} = CAST(f.val AS {DEC_SQL}) FROM exact_fixes f
                            WHERE f.col = '{col}' AND f.session_id = t.session_id AND f.seq = t.seq""")
        con.unregister("exact_fixes")
    if bad:
        con.register("exact_bad", pa.table({"session_id": [k[0] for k in bad], "seq": [k[1] for k in bad]}))
        con.execute(f"DELETE FROM {table} t USING exact_bad b WHERE b.session_id = t.session_id AND b.seq = t.seq")
        con.unregister("exact_bad")
    return len(bad), sorted(set(bad.values()))[:5]
