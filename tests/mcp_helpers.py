"""The MCP tests' data root and client: the real fixtures captured (feed -> daemon -> raw), the legacy
fixture imported, every typed table derived, the three vector tables built with the real model; and
the SDK's own client starting `python -m vectra_pipeline.cli mcp` over stdio (or speaking HTTP)."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pyarrow.parquet as pq
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from pipeline_helpers import FIXTURES, raw_dates, raw_paths
from service_helpers import OWN_TABLES

from vectra_capture.legacy.importer import import_legacy
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.run import derive_date
from vectra_pipeline.index.build import build

ROOT = Path(__file__).resolve().parents[1]
LEGACY = FIXTURES / "legacy" / "rugs_recordings"
TOOLS = {"search", "sql", "protocol", "live", "add_note"}
VIEWS = ("ws_event", "system_event", "game_tick", "server_state", "player_action", "complete_game", "games")


def mcp_root(request: pytest.FixtureRequest, tmp_path: Path) -> DataPaths:
    """The samples captured (plus the auth examples), the legacy recordings imported with the code of
    `vectra legacy import`, every typed table derived for every date as the Dagster assets do, and full
    builds of the events and debug_notes vector tables (code_context is left unbuilt: a search of it
    must say how to build it)."""
    paths = raw_paths(request, tmp_path)
    assert import_legacy([LEGACY], paths, legacy_root=LEGACY)["records"] > 0
    dates = raw_dates(paths)
    for date in dates:  # games of D reads game_tick of D+1: every other table first
        derive_date(paths, date, OWN_TABLES)
    for date in dates:
        derive_date(paths, date, ("games",))
    build(paths, full=True, tables=("events", "debug_notes"))
    return paths


def parquet_rows(paths: DataPaths, doc_type: str) -> int:
    """Rows of a doc_type counted from the Parquet footers with pyarrow (not through DuckDB or the server)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in paths.doc_type_dir(doc_type).glob("date=*/*.parquet"))


def stdio_params(paths: DataPaths, *extra: str) -> StdioServerParameters:
    env = {"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT)), "RUGS_DATA_DIR": str(paths.root)}
    return StdioServerParameters(command=sys.executable, args=["-m", "vectra_pipeline.cli", "mcp",
                                                               "--data-dir", str(paths.root), *extra],
                                 env=env, cwd=str(ROOT))


class Session:
    """Calls on a connected Client: `ok` returns the structured answer, `error` the tool error text."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, name: str, **arguments: Any) -> Any:
        return await self.client.call_tool(name, arguments)

    async def ok(self, name: str, **arguments: Any) -> dict:
        result = await self.call(name, **arguments)
        assert not result.is_error, f"{name}({arguments}) failed: {result.content[0].text}"
        return result.structured_content

    async def error(self, name: str, **arguments: Any) -> str:
        result = await self.call(name, **arguments)
        assert result.is_error, f"{name}({arguments}) should have failed, answered {result.structured_content}"
        return result.content[0].text


def run_client(server: StdioServerParameters | str, body: Callable[[Session], Awaitable[None]]) -> None:
    """Connect the SDK's client (stdio subprocess or streamable HTTP URL), run `body`, disconnect."""

    async def main() -> None:
        async with Client(server, read_timeout_seconds=120) as client:
            await body(Session(client))

    anyio.run(main)
