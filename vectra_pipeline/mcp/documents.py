"""The documents an assistant should be able to read, as MCP resources: the data root's CONTEXT.md
(written by the store), docs/protocol.md and the decision records when the repository is present, the
SQL views with their columns and the protocol catalog (both computed when read)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.mcpserver.resources import FunctionResource

from vectra_capture.store import root_context
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.docs.repo import decision_files, repo_root
from vectra_pipeline.mcp.readonly_sql import ReadOnlySQL
from vectra_pipeline.service import catalog as catalog_service
from vectra_pipeline.service.context import Context

ROOT_CONTEXT_URI = "vectra://data-root/CONTEXT.md"
PROTOCOL_URI = "vectra://docs/protocol.md"
VIEWS_URI = "vectra://sql/views"
CATALOG_URI = "vectra://protocol/catalog"


def root_context_text(paths: DataPaths) -> str:
    """The root's CONTEXT.md as the store wrote it; rendered the same way when it is not written yet."""
    try:
        return (paths.root / root_context.FILE_NAME).read_text()
    except OSError:
        return root_context.render(paths)


def _file_reader(path: Path) -> Callable[[], str]:
    def read() -> str:
        try:
            return path.read_text()
        except OSError as exc:
            raise ResourceError(f"{path.name} cannot be read: {exc}") from exc

    return read


def _add(server: MCPServer, fn: Callable[[], Any], uri: str, name: str, description: str, mime: str) -> None:
    server.add_resource(FunctionResource.from_function(fn=fn, uri=uri, name=name, description=description,
                                                       mime_type=mime))


def register(server: MCPServer, ctx: Context, sql: ReadOnlySQL) -> None:
    paths = ctx.paths
    _add(server, lambda: root_context_text(paths), ROOT_CONTEXT_URI, "data-root-context",
         "What lives in this data root, the schema version, doc_types and their keys, how to query and "
         "rebuild. Read this first.", "text/markdown")
    _add(server, lambda: {v: [c.model_dump() for c in cols] for v, cols in sql.views().items()}, VIEWS_URI,
         "sql-views", "The views the sql tool can read, with their columns and DuckDB types.", "application/json")
    _add(server, lambda: [e.model_dump(mode="json") for e in catalog_service.catalog(ctx)], CATALOG_URI,
         "protocol-catalog", "Every event name seen or known: direction, public/logged-in, count, first/last "
         "seen, verification status, drift.", "application/json")
    repo = repo_root()
    protocol_md = repo / "docs" / "protocol.md" if repo else None
    if protocol_md is not None and protocol_md.exists():
        _add(server, _file_reader(protocol_md), PROTOCOL_URI, "protocol",
             "docs/protocol.md: the rugs.fun Socket.IO protocol as far as it is known, tagged [data]/[docs]/[guess].",
             "text/markdown")
    for rel, path in decision_files():
        _add(server, _file_reader(path), f"vectra://{rel}", Path(rel).stem,
             f"Decision record {Path(rel).name}.", "text/markdown")
