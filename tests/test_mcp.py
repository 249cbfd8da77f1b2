"""The MCP server through the SDK's own client: `python -m vectra_pipeline.cli mcp` started over stdio
(and once over streamable HTTP) against a data root built from the real fixtures; every tool called
and its answers checked against counts made here with pyarrow / plain json."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from pathlib import Path

import anyio
import click
import duckdb
import pytest
from conftest import RAW_SAMPLES, VECTRA, free_port, wait_for, wait_port
from mcp_helpers import TOOLS, VIEWS, Session, mcp_root, parquet_rows, run_client, stdio_params
from pipeline_helpers import parsed_events

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.cli.mcp import parse_address
from vectra_pipeline.mcp.readonly_sql import ReadOnlySQL, SQLFailed
from vectra_pipeline.mcp.sql_guard import SQLRefused

NOTE = "MCP finding: the sidebet payout arrives only in currentSidebetResult, never in playerUpdate"


@pytest.fixture(scope="module")
def root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    return mcp_root(request, tmp_path_factory.mktemp("mcp"))


def trade_fields() -> Counter:
    """How many standard/newTrade payloads carry each key, from the fixture files with plain json."""
    return Counter(k for name, p in parsed_events(captured_only=False) if name == "standard/newTrade" for k in p)


# ---------------------------------------------------------------- stdio: every tool, real answers


def test_stdio_session_answers_every_tool(root: DataPaths) -> None:
    expected_fields = trade_fields()

    async def body(s: Session) -> None:
        tools = await s.client.list_tools()
        assert {t.name for t in tools.tools} == TOOLS
        assert all(t.input_schema.get("properties") is not None for t in tools.tools)

        # sql: every view's count equals the rows pyarrow counts in its Parquet footers
        for view in VIEWS:
            answer = await s.ok("sql", query=f"SELECT count(*) AS n FROM {view}")
            assert answer["rows"] == [[parquet_rows(root, view)]], view
        assert parquet_rows(root, "game_tick") > 0 and parquet_rows(root, "complete_game") > 0
        # payload is the frame's last argument (the trace object before it is skipped)
        trades = await s.ok("sql", query="SELECT count(*) FROM ws_event WHERE event_name = 'standard/newTrade' "
                                         "AND json_extract_string(payload, '$.id') IS NOT NULL")
        assert trades["rows"] == [[sum(1 for n, _ in parsed_events(captured_only=False) if n == "standard/newTrade")]]
        # decimals stay exact text
        price = await s.ok("sql", query="SELECT price FROM game_tick WHERE price IS NOT NULL LIMIT 1")
        assert isinstance(price["rows"][0][0], str) and price["columns"][0]["type"].startswith("DECIMAL")

        # protocol: the fields seen, with presence, equal what plain json finds in the fixture
        detail = await s.ok("protocol", event_name="standard/newTrade")
        assert detail["count"] == sum(1 for n, _ in parsed_events(captured_only=False) if n == "standard/newTrade")
        seen = {f["name"]: f["present"] for f in detail["fields"] if f["present"]}
        assert seen == dict(expected_fields)
        assert detail["verification"]["status"] in ("verified", "unverified", "needs-correction")
        assert detail["samples"] and json.loads(detail["samples"][0]["payload"])["gameId"]

        # search: a protocol question finds its event in the top 3
        hits = (await s.ok("search", query="what fields does gameStatePlayerUpdate have?", limit=3))["hits"]
        assert "gameStatePlayerUpdate" in [h["event_name"] for h in hits[:3]]
        filtered = (await s.ok("search", query="player balance", where="kind = 'protocol'", limit=5))["hits"]
        assert filtered and {h["kind"] for h in filtered} == {"protocol"}

        # live: no daemon on this root, said plainly
        status = await s.ok("live")
        assert status["running"] is False and status["connected"] is False

        # add_note: stored as Parquet, indexed, then found by search over debug_notes
        before = parquet_rows(root, "debug_note")
        stored = await s.ok("add_note", text=NOTE)
        assert stored["embedded"] >= 1 and (root.root / stored["stored"]).exists()
        assert parquet_rows(root, "debug_note") == before + 1
        found = (await s.ok("search", query="where is the side bet payout reported?", table="debug_notes"))["hits"]
        assert found and NOTE in found[0]["text"]

        # resources: the data root's CONTEXT.md exactly as the store wrote it, protocol.md, the views
        uris = {str(r.uri) for r in (await s.client.list_resources()).resources}
        assert {"vectra://data-root/CONTEXT.md", "vectra://docs/protocol.md", "vectra://sql/views"} <= uris
        context = (await s.client.read_resource("vectra://data-root/CONTEXT.md")).contents[0].text
        assert context == (root.root / "CONTEXT.md").read_text() and "game_tick" in context
        views = json.loads((await s.client.read_resource("vectra://sql/views")).contents[0].text)
        assert set(views) == set(VIEWS) and "payload" in {c["name"] for c in views["ws_event"]}

    run_client(stdio_params(root), body)


def test_bad_arguments_are_tool_errors_and_the_server_keeps_answering(root: DataPaths) -> None:
    async def body(s: Session) -> None:
        assert "empty query" in await s.error("search", query="   ")
        assert "limit" in await s.error("search", query="trades", limit=500)
        assert "unknown column 'password'" in await s.error("search", query="x", where="password = 'x'")
        assert "literal_error" in await s.error("search", query="x", table="users")
        assert "vectra index build" in await s.error("search", query="store layout", table="code_context")
        assert "unknown event 'noSuchEvent'" in await s.error("protocol", event_name="noSuchEvent")
        assert "empty note" in await s.error("add_note", text="  ")
        assert "limit must be 1..10000" in await s.error("sql", query="SELECT 1", limit=0)
        assert "Binder Error" in await s.error("sql", query="SELECT no_such_column FROM ws_event")
        assert "does not parse" in await s.error("sql", query="SELEC 1")
        assert "query" in await s.error("sql")  # a missing argument is an argument error, not a crash
        assert (await s.ok("sql", query="SELECT 42"))["rows"] == [[42]]
        # calls in flight together (each tool runs on a worker thread) all get their own answer
        calls = [("sql", {"query": "SELECT count(*) FROM game_tick"}), ("protocol", {"event_name": "playerUpdate"}),
                 ("live", {}), ("sql", {"query": "SELECT count(*) FROM player_action"}),
                 ("sql", {"query": "DROP VIEW games"})]
        answers: dict[int, object] = {}

        async def one(i: int, name: str, arguments: dict) -> None:
            answers[i] = await s.call(name, **arguments)

        async with anyio.create_task_group() as tg:
            for i, (name, arguments) in enumerate(calls):
                tg.start_soon(one, i, name, arguments)
        assert answers[0].structured_content["rows"] == [[parquet_rows(root, "game_tick")]]
        assert answers[1].structured_content["name"] == "playerUpdate"
        assert answers[2].structured_content["running"] is False
        assert answers[3].structured_content["rows"] == [[parquet_rows(root, "player_action")]]
        assert answers[4].is_error and "only SELECT" in answers[4].content[0].text

    run_client(stdio_params(root, "--no-warm"), body)


# ---------------------------------------------------------------- sql: refusals, lock-down, limits


REFUSED = {
    "DELETE FROM ws_event": "only SELECT",
    "INSERT INTO games VALUES (1)": "only SELECT",
    "CREATE TABLE t AS SELECT 1": "only SELECT",
    "DROP VIEW ws_event": "only SELECT",
    "ATTACH '/tmp/other.duckdb' AS other": "only SELECT",
    "COPY ws_event TO 'out.csv'": "only SELECT",
    "INSTALL httpfs": "only SELECT",
    "LOAD httpfs": "only SELECT",
    "SET enable_external_access = true": "only SELECT",
    "PRAGMA database_list": "only SELECT",
    "EXPORT DATABASE 'dump'": "only SELECT",
    "SELECT 1; DELETE FROM ws_event": "one statement per call",
    "SELECT * FROM read_parquet('/etc/*.parquet')": "table function read_parquet()",
    "SELECT * FROM read_text('/etc/passwd')": "table function read_text()",
    "SELECT * FROM read_csv('/etc/passwd')": "table function read_csv()",
    "SELECT * FROM glob('/*')": "table function glob()",
    "SELECT * FROM query('SELECT 1')": "table function query()",
    "SELECT * FROM duckdb_settings()": "table function duckdb_settings()",
    "SELECT * FROM '/etc/passwd'": "unknown table '/etc/passwd'",
    "SELECT * FROM ws_event w WHERE seq IN (SELECT seq FROM 'data.csv')": "unknown table 'data.csv'",
    "SELECT * FROM _ws_event_rows": "unknown table '_ws_event_rows'",
    "SELECT * FROM main.ws_event": "unknown table 'main.ws_event'",
    "SHOW TABLES": "SHOW is not allowed",
}


def test_sql_refuses_writes_files_and_attach(root: DataPaths) -> None:
    before = sorted(p.relative_to(root.root) for p in root.root.rglob("*") if "vectors" not in p.parts)

    async def body(s: Session) -> None:
        for statement, reason in REFUSED.items():
            assert reason in await s.error("sql", query=statement), statement
        # what is allowed still works: CTEs, joins, DESCRIBE, json table functions over payload
        cte = await s.ok("sql", query="WITH t AS (SELECT game_id FROM game_tick) SELECT count(*) FROM t")
        assert cte["rows"] == [[parquet_rows(root, "game_tick")]]
        described = await s.ok("sql", query="DESCRIBE player_action")
        assert "action_kind" in {r[0] for r in described["rows"]}
        keys = await s.ok("sql", query="SELECT DISTINCT k.key FROM ws_event, json_each(payload) k "
                                       "WHERE event_name = 'standard/newTrade' ORDER BY 1")
        assert {r[0] for r in keys["rows"]} == set(trade_fields())

    run_client(stdio_params(root, "--no-warm"), body)
    after = sorted(p.relative_to(root.root) for p in root.root.rglob("*") if "vectors" not in p.parts)
    assert after == before  # nothing written anywhere in the root (no out.csv, no dump/)


def test_locked_connection_refuses_even_without_the_guard(root: DataPaths) -> None:
    """DuckDB's own lock-down: what the guard would refuse fails on the connection itself too."""
    sql = ReadOnlySQL(root)
    con = sql._connection()
    for statement in ("SELECT * FROM read_text('/etc/hostname')", "ATTACH '/tmp/x.duckdb'",
                      "SET enable_external_access = true", "SET allowed_directories = ['/']",
                      "INSTALL httpfs"):
        with pytest.raises(duckdb.Error):
            con.execute(statement).fetchall()
    assert sql.run("SELECT count(*) FROM ws_event").rows == [[parquet_rows(root, "ws_event")]]
    sql.close()


def test_runaway_query_is_stopped_and_results_are_capped(root: DataPaths) -> None:
    cross = "SELECT sum(hash(a.seq + b.seq + c.seq + d.seq)) FROM ws_event a, ws_event b, ws_event c, ws_event d"

    async def body(s: Session) -> None:
        t0 = time.monotonic()
        message = await s.error("sql", query=cross)
        assert "stopped after the 2 s time limit" in message
        assert time.monotonic() - t0 < 60  # it was stopped, not run to its end (hours)
        capped = await s.ok("sql", query="SELECT seq FROM ws_event", limit=5)
        assert capped["row_count"] == 5 and capped["truncated"] and "limit=5" in capped["note"]
        whole = await s.ok("sql", query="SELECT raw_json, payload FROM ws_event WHERE event_name = 'gameStateUpdate'",
                           limit=10_000)
        assert whole["truncated"] and "characters" in whole["note"]  # 1 MB of frames, not all of them
        assert 0 < whole["row_count"] < parquet_rows(root, "ws_event")
        assert (await s.ok("sql", query="SELECT 1"))["rows"] == [[1]]  # the connection survived the interrupt

    run_client(stdio_params(root, "--no-warm", "--sql-timeout", "2"), body)


def test_readonly_sql_errors_in_process(root: DataPaths) -> None:
    sql = ReadOnlySQL(root, timeout_s=5)
    with pytest.raises(SQLRefused, match="only SELECT"):
        sql.run("UPDATE games SET peak = 0")
    with pytest.raises(SQLFailed, match="Binder Error"):
        sql.run("SELECT nope FROM games")
    result = sql.run("SELECT raw_json FROM ws_event WHERE event_name = 'gameStateUpdate' "
                     "ORDER BY length(raw_json) DESC LIMIT 1")
    assert result.cells_cut == 1 and "more characters]" in result.rows[0][0]
    sql.close()


# ---------------------------------------------------------------- live: a real capture


def test_live_reports_the_daemon_of_a_test_capture(tmp_path: Path, procs) -> None:
    data = DataPaths(tmp_path / "live")
    port = free_port()
    procs(["feed", "serve", "--port", str(port), "--speed", "1", "--loop", str(RAW_SAMPLES)], "feed")
    wait_port(port)
    daemon = procs(["capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data.root)], "daemon")
    game_ids = {p["gameId"] for n, p in parsed_events(captured_only=True) if n == "gameStateUpdate"}

    async def body(s: Session) -> None:
        status: dict = {}

        async def connected() -> bool:
            nonlocal status
            status = await s.ok("live")
            return status["connected"] and status["received"] > 0 and status["game"] is not None

        deadline = time.monotonic() + 60
        while not await connected():
            assert time.monotonic() < deadline, f"never connected: {status}"
            await anyio.sleep(0.5)
        on_disk = json.loads(data.capture_status.read_text())
        assert status["running"] and status["session_id"] == on_disk["session_id"]
        assert status["url"].startswith("http://127.0.0.1:")
        assert status["game"]["game_id"] in game_ids
        assert status["last_frame_event"] is not None
        daemon.stop()
        stopped = await s.ok("live")
        assert stopped["running"] is False and stopped["connected"] is False

    run_client(stdio_params(data, "--no-warm"), body)
    assert wait_for(lambda: daemon.popen.poll() is not None, 5)


# ---------------------------------------------------------------- streamable HTTP


def test_streamable_http_on_loopback(root: DataPaths, procs) -> None:
    port = free_port()
    server = procs(["mcp", "--http", f"127.0.0.1:{port}", "--no-warm", "--data-dir", str(root.root)], "mcp_http")
    wait_port(port)

    async def body(s: Session) -> None:
        assert {t.name for t in (await s.client.list_tools()).tools} == TOOLS
        answer = await s.ok("sql", query="SELECT count(*) FROM games")
        assert answer["rows"] == [[parquet_rows(root, "games")]]
        assert "only SELECT" in await s.error("sql", query="DROP VIEW games")
        context = (await s.client.read_resource("vectra://data-root/CONTEXT.md")).contents[0].text
        assert context == (root.root / "CONTEXT.md").read_text()

    run_client(f"http://127.0.0.1:{port}/mcp", body)
    assert server.popen.poll() is None  # still serving after the client left
    assert "http://127.0.0.1:" in server.stderr()


def test_http_refuses_a_non_loopback_address(root: DataPaths) -> None:
    port = free_port()
    out = subprocess.run([*VECTRA, "mcp", "--http", f"0.0.0.0:{port}", "--no-warm", "--data-dir", str(root.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "not a loopback address" in out.stderr and "--allow-remote" in out.stderr


def test_parse_address() -> None:
    assert parse_address("127.0.0.1:8766", False) == ("127.0.0.1", 8766)
    assert parse_address("8766", False) == ("127.0.0.1", 8766)
    assert parse_address("[::1]:8766", False) == ("::1", 8766)
    assert parse_address("localhost:9000", False) == ("localhost", 9000)
    assert parse_address("0.0.0.0:8766", True) == ("0.0.0.0", 8766)
    for bad, allow in (("0.0.0.0:8766", False), ("example.com:80", False), ("127.0.0.1:0", False),
                       ("127.0.0.1:http", False), ("10.1.2.3:8766", False)):
        with pytest.raises(click.BadParameter):
            parse_address(bad, allow)
