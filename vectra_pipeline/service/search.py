"""Hybrid search over the vector tables (the index package's search), with arguments checked first so a
bad table or filter is a clear message, not a LanceDB traceback."""

from __future__ import annotations

import re

from pydantic import BaseModel

from vectra_pipeline.index.errors import InvalidFilter, VectorIndexError
from vectra_pipeline.index.search import search as index_search
from vectra_pipeline.index.tables import FILTER_COLUMNS, TABLES
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import BadRequest, Unavailable

MAX_LIMIT = 50
MAX_QUERY = 1000
_SQL_WORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false", "between"}
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|[A-Za-z_][A-Za-z0-9_]*")


class Hit(BaseModel):
    id: str
    kind: str
    score: float
    text: str
    event_name: str | None = None
    game_id: str | None = None
    player_id: str | None = None
    date: str | None = None
    path: str | None = None


class SearchResults(BaseModel):
    query: str
    table: str
    where: str | None
    limit: int
    hits: list[Hit]


def check_filter(where: str) -> None:
    """Only the filter columns may appear in a filter (outside string literals)."""
    for token in _TOKENS.findall(where):
        if token[0] in "'\"":
            continue
        if token.lower() not in _SQL_WORDS and token not in FILTER_COLUMNS:
            raise BadRequest(f"bad filter {where!r}: unknown column {token!r}; filter columns are "
                             f"{', '.join(FILTER_COLUMNS)} (e.g. event_name = 'playerUpdate')")


def search(ctx: Context, q: str, table: str = "events", where: str | None = None, limit: int = 10) -> SearchResults:
    q = (q or "").strip()
    where = (where or "").strip() or None
    if not q:
        raise BadRequest("empty query: say what to look for")
    if len(q) > MAX_QUERY:
        raise BadRequest(f"the query is {len(q)} characters; at most {MAX_QUERY}")
    if table not in TABLES:
        raise BadRequest(f"unknown table {table!r}; tables: {', '.join(TABLES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be 1..{MAX_LIMIT}")
    if where:
        check_filter(where)
    try:
        rows = index_search(q, table=table, where=where, limit=limit, paths=ctx.paths)
    except InvalidFilter as exc:  # LanceDB cannot parse it; the message says why and shows an example
        raise BadRequest(f"bad filter {where!r}: {exc}") from exc
    except VectorIndexError as exc:
        raise Unavailable(str(exc)) from exc
    except Exception as exc:
        if where:  # LanceDB rejected the filter (syntax); the columns were checked above
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise BadRequest(f"bad filter {where!r}: {first}") from exc
        raise
    return SearchResults(query=q, table=table, where=where, limit=limit, hits=[Hit(**r) for r in rows])
