"""The MCP server: one typed function per tool, each a thin call into the service layer (or the
read-only SQL), and the documents an assistant should read as resources.

Tool errors: a service refusal (bad argument, unknown event, nothing built yet) or a refused/failed
SQL statement becomes a ToolError, which the client sees as `is_error` with the message; anything
unexpected is caught by the SDK (logged, "Error executing tool ..."), so no call can stop the server.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import get_embedder
from vectra_pipeline.mcp import documents
from vectra_pipeline.mcp.readonly_sql import (
    DEFAULT_TIMEOUT_S,
    MAX_LIMIT,
    VIEWS,
    ReadOnlySQL,
    SQLFailed,
    SQLResult,
)
from vectra_pipeline.mcp.sql_guard import SQLRefused
from vectra_pipeline.service import catalog as catalog_service
from vectra_pipeline.service import live as live_service
from vectra_pipeline.service import notes as notes_service
from vectra_pipeline.service import search as search_service
from vectra_pipeline.service.context import Context
from vectra_pipeline.service.errors import ServiceError

log = logging.getLogger(__name__)

SERVER_NAME = "vectra"
AGENT_SAMPLE_CHARS = 6_000  # per sample payload in `protocol`: enough to see the shape, not 64 KB of it

INSTRUCTIONS = f"""Vectra holds a faithful history of the rugs.fun game feed (Socket.IO frames) as Parquet.
Start with the resource vectra://data-root/CONTEXT.md (what lives where, schema version, keys).
- protocol(event_name): fields, types, presence, verification status and real samples of one event.
- search(query): hybrid search over protocol docs, games, trades, chat, system events (table events),
  the code's CONTEXT.md files (code_context) and decision records and notes (debug_notes).
- sql(query): one read-only DuckDB SELECT over the views {", ".join(VIEWS)}; `payload` is the frame's
  last argument as JSON (json_extract_string(payload, '$.gameId')). Money and prices are exact decimals.
- live(): the capture daemon right now. add_note(text): record a finding for later searches."""

SQL_DESCRIPTION = f"""Read-only DuckDB over the views {", ".join(VIEWS)} (one per doc_type, partitioned by
`date`, the event's UTC day). Each has the envelope (ts, source, doc_type, session_id, game_id,
player_id, username, seq, direction, raw_json), its own columns (DESCRIBE <view>) and `payload`: the
frame's last argument as JSON (json_extract_string(payload, '$.price')). Writes, ATTACH, COPY,
INSTALL/LOAD, SET, PRAGMA and file reads are refused; a query is stopped after a time limit; results
are capped and `truncated`/`note` say when they were cut. Decimals come as exact text."""

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


@contextlib.contextmanager
def tool_errors() -> Iterator[None]:
    """Anticipated failures as tool errors with their own message (the model reads it and retries)."""
    try:
        yield
    except (ServiceError, SQLRefused, SQLFailed) as exc:
        raise ToolError(str(exc)) from exc


def _warm(ctx: Context, sql: ReadOnlySQL) -> None:
    """Pay the start-up costs before the first question: the embedding model (seconds), LanceDB and the
    events table's index pages, the SQL views, the per-file protocol statistics. Runs on a daemon thread;
    a call that needs the model meanwhile waits on the model cache's lock instead of loading it twice."""
    try:
        sql.views()
        try:
            search_service.search(ctx, "gameStateUpdate fields", limit=1)
        except ServiceError:  # no vector table yet: the model alone
            get_embedder().embed(["warm up"])
        log.info("mcp: search model loaded")
        catalog_service.event_stats(ctx)  # remembered per raw file (FileMemo): later calls read new files only
    except Exception:  # warming is an optimisation; the tools report their own errors
        log.exception("mcp: warm-up failed")


def build_server(paths: DataPaths, *, warm: bool = True, sql_timeout_s: float = DEFAULT_TIMEOUT_S) -> MCPServer:
    ctx = Context(paths)
    sql_db = ReadOnlySQL(paths, timeout_s=sql_timeout_s)
    server = MCPServer(SERVER_NAME, title="Vectra: the rugs.fun feed history", instructions=INSTRUCTIONS)

    @server.tool(annotations=READ_ONLY)
    def search(
        query: Annotated[str, Field(description="What to look for, in words (e.g. 'fields of playerUpdate').")],
        table: Annotated[Literal["events", "code_context", "debug_notes"], Field(
            description="events: protocol docs, games, trades, chat, system events; code_context: the "
                        "code's CONTEXT.md sections; debug_notes: decision records and notes.")] = "events",
        where: Annotated[str | None, Field(
            description="Optional SQL filter on kind, event_name, game_id, player_id, date, source_file, path "
                        "(e.g. \"kind = 'protocol'\").")] = None,
        limit: Annotated[int, Field(description="Hits to return, 1..50.")] = 5,
    ) -> search_service.SearchResults:
        """Hybrid (vector + full-text) search of the vector tables. Each hit: id, kind, event_name /
        game_id / player_id / date / path where they apply, the document text and its score."""
        with tool_errors():
            return search_service.search(ctx, query, table, where, limit)

    @server.tool(annotations=READ_ONLY, description=" ".join(SQL_DESCRIPTION.split()))
    def sql(
        query: Annotated[str, Field(description="One DuckDB SELECT (also WITH ..., DESCRIBE <view>, SUMMARIZE).")],
        limit: Annotated[int, Field(description=f"Rows to return at most, 1..{MAX_LIMIT}.")] = 1000,
    ) -> SQLResult:
        with tool_errors():
            return sql_db.run(query, limit)

    @server.tool(annotations=READ_ONLY)
    def protocol(
        event_name: Annotated[str, Field(description="A Socket.IO event name, e.g. 'gameStateUpdate', "
                                                     "'standard/newTrade', 'playerUpdate'.")],
    ) -> catalog_service.EventDetail:
        """What is known about one event: meaning and facts from docs/protocol.md, direction, public or
        logged-in, fields with the JSON types seen, presence share and the model's type, drift, the
        verification status, counts, first/last seen, and real samples (payloads cut to a few KB)."""
        with tool_errors():
            detail = catalog_service.event(ctx, event_name.strip())
        for sample in detail.samples:
            if len(sample.payload) > AGENT_SAMPLE_CHARS:
                sample.payload, sample.truncated = sample.payload[:AGENT_SAMPLE_CHARS] + "\n…", True
        return detail

    @server.tool(annotations=READ_ONLY)
    def live() -> live_service.LiveStatus:
        """The capture daemon right now: running/connected, counts (received, written, quarantined), lag,
        the newest frame, the live game (phase, tick, price) and the logged-in player's state if any."""
        with tool_errors():
            return live_service.live(ctx)

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False))
    def add_note(
        text: Annotated[str, Field(description="The finding, in plain words (at most 20,000 characters).")],
    ) -> notes_service.NoteResult:
        """Store a debug note (canonical Parquet, doc_type=debug_note) and index it into the debug_notes
        table, as `vectra notes add` does; search(table="debug_notes") finds it afterwards."""
        with tool_errors():
            return notes_service.add_note(ctx, text)

    documents.register(server, ctx, sql_db)
    if warm:
        threading.Thread(target=_warm, args=(ctx, sql_db), name="mcp-warm-up", daemon=True).start()
    return server
