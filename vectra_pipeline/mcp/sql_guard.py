"""Which SQL an assistant may run: one SELECT over the named views, nothing else.

DuckDB parses the text itself (`extract_statements` for the statement type, `json_serialize_sql` for
the syntax tree), so the check sees what DuckDB will run rather than what a regex guesses. Refused:
more than one statement, any statement that is not a SELECT (writes, ATTACH, COPY, INSTALL/LOAD,
SET, PRAGMA, EXPORT, CALL ...), a table that is not one of the views or a CTE of the query (a quoted
file path is a table to DuckDB), and table functions other than a few pure ones (read_parquet,
read_csv, glob, read_text, query(), pragma_* ...). The connection is locked down as well
(readonly_sql.py), so a gap here still cannot reach a file outside the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import duckdb

# Table functions that compute rows from their arguments only (no file, no catalog, no settings).
PURE_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})
MAX_SQL_CHARS = 20_000


class SQLRefused(ValueError):
    """The statement is not allowed (or does not parse); the message says why and what is allowed."""


def _nodes(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _cte_names(tree: dict) -> set[str]:
    names = set()
    for node in _nodes(tree):
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names.update(str(entry.get("key", "")).lower() for entry in cte_map.get("map") or [])
    return names


def check(con: duckdb.DuckDBPyConnection, sql: str, views: Iterable[str]) -> str:
    """The one SELECT statement of `sql` if an assistant may run it; SQLRefused otherwise."""
    views = sorted(views)
    allowed = ", ".join(views)
    text = (sql or "").strip()
    if not text:
        raise SQLRefused("empty query")
    if len(text) > MAX_SQL_CHARS:
        raise SQLRefused(f"the query is {len(text)} characters; at most {MAX_SQL_CHARS}")
    try:
        statements = con.extract_statements(text)
    except duckdb.Error as exc:
        raise SQLRefused(f"the query does not parse: {exc}") from exc
    if len(statements) != 1:
        raise SQLRefused(f"one statement per call, got {len(statements)}")
    [statement] = statements
    kind = statement.type.name
    if kind != "SELECT":
        raise SQLRefused(f"only SELECT is allowed (read-only access to the views {allowed}); "
                         f"this statement is {kind}")
    [[serialized]] = con.execute("SELECT json_serialize_sql(?)", [statement.query]).fetchall()
    tree = json.loads(serialized)
    if tree.get("error"):
        raise SQLRefused(f"the query does not parse: {tree.get('error_message', 'unknown error')}")
    names = {v.lower() for v in views} | _cte_names(tree)
    for node in _nodes(tree):
        ref = node.get("type")
        if ref == "BASE_TABLE":
            name = str(node.get("table_name", ""))
            qualified = node.get("schema_name") or node.get("catalog_name")
            if qualified or name.lower() not in names:
                shown = ".".join(p for p in (node.get("catalog_name"), node.get("schema_name"), name) if p)
                raise SQLRefused(f"unknown table {shown!r}: only the views {allowed} (and the query's own "
                                 f"CTEs) can be read; files and other catalogs cannot")
        elif ref == "TABLE_FUNCTION":
            fn = str((node.get("function") or {}).get("function_name", "")).lower()
            if fn not in PURE_TABLE_FUNCTIONS:
                raise SQLRefused(f"table function {fn}() is not allowed (it reads files, settings or the "
                                 f"catalog); allowed: {', '.join(sorted(PURE_TABLE_FUNCTIONS))}")
        elif ref == "SHOW_REF" and node.get("table_name"):
            raise SQLRefused(f"SHOW is not allowed; the views are {allowed} (DESCRIBE <view> lists its columns)")
    return statement.query
