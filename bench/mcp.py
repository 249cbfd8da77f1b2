"""MCP `search` latency through a real MCP client session at 100k rows (target p50 < 50 ms, question
embedding included), against a baseline measured in the same run: the same service call in-process.

1. A data root whose `events` table holds `--rows` random unit vectors in vectra's schema, with the
   indexes a build of that size makes (FTS + IVF_PQ; `--no-ivf` for a flat search).
2. `python -m vectra_pipeline.cli mcp` started over stdio by the SDK's client: time to a connected
   session and the first `search` right after start-up (reported separately: it may wait for the model
   the server loads in the background).
3. Then, per question, one `search` through MCP and, as the baseline, the same service call
   (`service.search.search(ctx, question)`, model loaded) in this process, alternated so both see the
   same machine; p50/p95 of each and their ratio. A trivial tool (`sql SELECT 1`) gives the protocol's
   own round trip.

    .venv/bin/python bench/mcp.py [--rows 100000] [--calls 60] [--no-ivf]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# this file is bench/mcp.py: with its folder first on sys.path, `import mcp` would import itself
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]

import anyio  # noqa: E402
import numpy as np  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from vectra_capture.store.layout import DataPaths  # noqa: E402
from vectra_pipeline.index.embedder import get_embedder  # noqa: E402
from vectra_pipeline.service import search as search_service  # noqa: E402
from vectra_pipeline.service.context import Context  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_index", BENCH / "index.py")
bench_index = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_index)

QUESTIONS = ["What fields are in playerUpdate?", "why are prices decimals?", "when did the game rug at its peak?",
             "which player sold at the top?", "side bet payout", "chat about the leaderboard",
             "how many ticks does a game last", "cash balance of the player", "trade at tick 120",
             "leaderboard positions and pnl", "rug price of the last game", "buy orders in the presale"]


def ms(values: list[float], p: float) -> float:
    return round(float(np.percentile(values, p)) * 1000, 2)


async def measure(paths: DataPaths, calls: int) -> dict:
    """Connect, time the first call, then alternate an MCP call and the same in-process call per question,
    so both sides see the same machine (other processes come and go on these 2 cores)."""
    ctx = Context(paths)
    get_embedder().warm()
    search_service.search(ctx, QUESTIONS[0], limit=5)  # LanceDB session and index pages, as the server warms
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "vectra_pipeline.cli", "mcp", "--data-dir", str(paths.root)],
        env={"PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}, cwd=str(ROOT))
    out: dict = {}
    t0 = time.perf_counter()
    async with Client(params, read_timeout_seconds=300) as client:
        out["connect_s"] = round(time.perf_counter() - t0, 2)
        t = time.perf_counter()
        first = await client.call_tool("search", {"query": "fields of gameStateUpdate", "limit": 5})
        out["first_call_after_start_ms"] = round((time.perf_counter() - t) * 1000, 1)
        assert not first.is_error, first.content[0].text
        mcp_t, local_t, filtered_t, embed_t = [], [], [], []
        for i in range(calls):
            q = QUESTIONS[i % len(QUESTIONS)]
            t = time.perf_counter()
            result = await client.call_tool("search", {"query": q, "limit": 5})
            mcp_t.append(time.perf_counter() - t)
            assert not result.is_error and len(result.structured_content["hits"]) == 5
            t = time.perf_counter()
            search_service.search(ctx, q, limit=5)
            local_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            get_embedder().embed([q])
            embed_t.append(time.perf_counter() - t)
            if i % 2 == 0:
                t = time.perf_counter()
                await client.call_tool("search", {"query": q, "where": "kind = 'trade'", "limit": 5})
                filtered_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(calls):
            await client.call_tool("sql", {"query": "SELECT 1"})
        out["protocol_round_trip_ms"] = round((time.perf_counter() - t) / calls * 1000, 2)  # a trivial tool
    out["search_p50_ms"], out["search_p95_ms"] = ms(mcp_t, 50), ms(mcp_t, 95)
    out["search_filtered_p50_ms"], out["search_filtered_p95_ms"] = ms(filtered_t, 50), ms(filtered_t, 95)
    out["baseline_in_process_p50_ms"], out["baseline_in_process_p95_ms"] = ms(local_t, 50), ms(local_t, 95)
    out["embed_question_p50_ms"] = ms(embed_t, 50)
    out["mcp_over_in_process_p50"] = round(out["search_p50_ms"] / out["baseline_in_process_p50_ms"], 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--no-ivf", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = DataPaths.resolve(Path(tmp) / "data")
        setup_s = bench_index.synthetic_events_table(paths, args.rows, not args.no_ivf)
        result: dict = {"rows": args.rows, "index": "flat" if args.no_ivf else "ivf_pq", "setup_s": round(setup_s, 1)}
        result.update(anyio.run(measure, paths, args.calls))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
