"""Vector index benchmark (ratios against a baseline measured in the same run).

1. Full build docs/s vs `model.encode` alone on the same texts (target ratio >= 0.8), with the torch
   (sentence-transformers) and the ONNX Runtime embedder; then both embedders on the same texts,
   alternated: docs/s each, the ratio (target >= 2x torch) and the minimum cosine between their vectors;
   and the same ratio by text length (question-length texts vs the documents' length), because at fp32
   both runtimes are bound by the same matrix products once texts are long.
2. Incremental build with nothing new: seconds (target < 2 s), in-process and as a `vectra` CLI call;
   `vectra index query --where` from a cold process with ONNX (target < 3 s) vs torch, best of 3 each.
3. Query latency p50/p95 at 100k rows (target p50 < 50 ms): 100k random unit vectors written straight
   into a LanceDB table in a temp dir; flat vector search, IVF_PQ, and hybrid (vector + FTS, RRF).
4. End-to-end `vectra_pipeline.index.search.search(...)` at 100k rows (what `vectra index query` and agents call): embeds
   the query text with the real model, opens the table, hybrid search with RRF, result dicts; unfiltered and
   filtered (target p50 < 20 ms), each against the baseline in the same run, alternated: LanceDB's own
   hybrid query with its RRFReranker (what search() ran before), whose answers (ids, order, scores) must be
   the same. Table open and query embedding are also timed alone, and the filtered search is repeated
   with the question embedded by torch.
5. One synthetic day of live feed (1,400 games, 35k trades, chat, side bets, system events; target
   <= 2 min a day): documents per day by kind as built (trades and side bets one per game and player),
   mean tokens, seconds to build them (real builders over real Parquet) and to embed them (each kind's
   docs/s on a sample, times the day's count); the ratio against one document per trade and side bet
   (the documents before docs/decisions/0014), measured in the same run, alternated.

    .venv/bin/python bench/index.py [--trades 400] [--rows 100000] [--no-ivf] [--only-e2e | --only-day]
                                    [--day-scale 1.0] [--day-sample 96] [--e2e-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from vectors_helpers import sample_events, write_fixture_raw  # noqa: E402

from vectra_capture.store import write_records  # noqa: E402
from vectra_capture.store.envelope import RawRecord  # noqa: E402
from vectra_capture.store.layout import DataPaths  # noqa: E402
from vectra_pipeline.index.build import EMBED_CHUNK, build, ensure_indexes  # noqa: E402
from vectra_pipeline.index.embedder import DEFAULT_MODEL, MODEL_ENV, TORCH_MINILM, get_embedder  # noqa: E402
from vectra_pipeline.index.search import RESULT_COLUMNS, fts_text, search  # noqa: E402
from vectra_pipeline.index.tables import (  # noqa: E402
    connect,
    open_table,
    remove_table_folder,
    table_exists,
    table_schema,
)


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) * 1000


def synthetic_trades(paths: DataPaths, n: int) -> None:
    """n extra trades (new ids, players, amounts) so the build has a few hundred documents."""
    trace, template = next(e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade")
    rng = np.random.default_rng(7)
    recs = []
    for i in range(n):
        t = {**template, "id": str(uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | i)),
             "username": f"player{i % 97}", "type": ["buy", "sell", "short_open", "short_close"][i % 4],
             "amount": round(float(rng.uniform(0.001, 2)), 3), "tickIndex": int(rng.integers(0, 400))}
        recs.append(RawRecord("ws_event", 1_765_000_000_000_000 + i * 250_000, i, "replay", "bench-session",
                              json.dumps(["standard/newTrade", trace, t]).encode(), event_name="standard/newTrade",
                              game_id=t["gameId"], player_id=t["playerId"], username=t["username"]))
    write_records(paths, recs, "bench")


def _encode_rate(embedder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t0)


def _build_vs_encode(paths: DataPaths, embedder) -> dict:
    """A full build of `events` with `embedder`, then encode alone on the same texts."""
    embedder.warm()
    # the first encode after loading is ~30 % slower (warm-up): pay it before either side is timed
    embedder.embed([f"warm-up sentence {i} about a trade in game {i * 7}" for i in range(96)])
    [full] = build(paths, full=True, tables=["events"], embedder=embedder)
    texts = open_table(paths, "events").to_arrow()["text"].to_pylist()
    encode_rate = _encode_rate(embedder, texts)
    build_rate = full.embedded / full.seconds
    return {"documents": full.embedded, "build_docs_per_s": round(build_rate, 1),
            "encode_docs_per_s": round(encode_rate, 1), "ratio": round(build_rate / encode_rate, 3)}


def _alternated_rates(torch_embedder, onnx_embedder, texts: list[str]) -> tuple[float, float]:
    """Both embedders' docs/s on the same texts, alternated twice (machine load hits both alike), best of each."""
    torch_rates, onnx_rates = [], []
    for _ in range(2):
        torch_rates.append(_encode_rate(torch_embedder, texts))
        onnx_rates.append(_encode_rate(onnx_embedder, texts))
    return max(torch_rates), max(onnx_rates)


def _embed_by_length(torch_embedder, onnx_embedder, documents: list[str]) -> dict:
    """ONNX vs torch docs/s per length band, alternated (best of 2 each): short texts are where the
    runtimes' per-call overhead shows; long ones are matrix products both do at the same speed."""
    questions = [f"{q} {i}" for i in range(40) for q in ("which player sold at the top?", "side bet payout",
                                                         "why are prices decimals?", "chat about the leaderboard")]
    bands = {"questions": questions}
    for name, lo, hi in (("docs_up_to_64_tokens", 0, 64), ("docs_65_to_128_tokens", 65, 128),
                         ("docs_over_128_tokens", 129, 10_000)):
        band = [t for t in documents if lo <= torch_embedder.count_tokens(t) <= hi]
        if len(band) >= 32:
            bands[name] = band[:256]
    out = {}
    for name, texts in bands.items():
        torch_rate, onnx_rate = _alternated_rates(torch_embedder, onnx_embedder, texts)
        out[name] = {"texts": len(texts),
                     "mean_tokens": round(float(np.mean([torch_embedder.count_tokens(t) for t in texts])), 1),
                     "torch_docs_per_s": round(torch_rate, 1), "onnx_docs_per_s": round(onnx_rate, 1),
                     "onnx_vs_torch": round(onnx_rate / torch_rate, 2)}
    return out


def bench_build(work: Path, trades: int) -> dict:
    paths = DataPaths.resolve(work / "data")
    write_fixture_raw(paths)
    synthetic_trades(paths, trades)
    torch_embedder, onnx_embedder = get_embedder(TORCH_MINILM), get_embedder()
    out = {"torch": _build_vs_encode(paths, torch_embedder), "onnx": _build_vs_encode(paths, onnx_embedder)}
    # the same texts through both models, alternated, so machine load hits both alike
    texts = open_table(paths, "events").to_arrow()["text"].to_pylist()
    torch_rate, onnx_rate = _alternated_rates(torch_embedder, onnx_embedder, texts)
    a, b = onnx_embedder.embed(texts), torch_embedder.embed(texts)
    out["embed"] = {"texts": len(texts), "mean_tokens": round(float(np.mean([torch_embedder.count_tokens(t) for t in texts])), 1),
                    "torch_docs_per_s": round(torch_rate, 1), "onnx_docs_per_s": round(onnx_rate, 1),
                    "onnx_vs_torch": round(onnx_rate / torch_rate, 2),
                    "min_cosine_onnx_torch": round(float((a * b).sum(axis=1).min()), 7)}
    out["embed_by_length"] = _embed_by_length(torch_embedder, onnx_embedder, texts)
    t0 = time.perf_counter()
    [noop] = build(paths, full=False, tables=["events"], embedder=onnx_embedder)
    noop_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "vectra_pipeline.cli", "index", "build", "--incremental", "--table", "events",
                          "--json", "--data-dir", str(paths.root)], capture_output=True, text=True, check=True)
    cli_s = time.perf_counter() - t0
    assert noop.embedded == 0 and json.loads(cli.stdout)["embedded"] == 0
    out.update({"noop_incremental_s": round(noop_s, 4), "noop_cli_process_s": round(cli_s, 2),
                "cold_query": bench_cold_query(paths)})
    return out


def bench_cold_query(paths: DataPaths, runs: int = 3) -> dict:
    """`vectra index query` as a fresh process (imports, model load, one filtered hybrid search) with the
    default ONNX embedder and with torch (the baseline), and the floor (a bare interpreter importing
    lancedb), alternated so machine load hits all alike; best of `runs` each."""
    query = [sys.executable, "-m", "vectra_pipeline.cli", "index", "query", "What fields are in playerUpdate?",
             "--where", "kind = 'protocol'", "--limit", "3", "--data-dir", str(paths.root)]
    runs_by = {"onnx": (query, DEFAULT_MODEL), "torch": (query, TORCH_MINILM),
               "import_lancedb": ([sys.executable, "-c", "import lancedb"], DEFAULT_MODEL)}
    walls: dict[str, list[float]] = {name: [] for name in runs_by}
    for _ in range(runs):
        for name, (cmd, model) in runs_by.items():
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  env={**os.environ, MODEL_ENV: model})
            walls[name].append(time.perf_counter() - t0)
            assert cmd is not query or "protocol:playerUpdate" in done.stdout, done.stdout
    best = {name: min(w) for name, w in walls.items()}
    return {"onnx_s": round(best["onnx"], 2), "torch_s": round(best["torch"], 2),
            "onnx_vs_torch": round(best["onnx"] / best["torch"], 3),
            "import_lancedb_floor_s": round(best["import_lancedb"], 2),
            # below 1: the query process imports lancedb without its REST client, in parallel with the model
            "onnx_vs_import_lancedb": round(best["onnx"] / best["import_lancedb"], 3)}


def bench_query(work: Path, rows: int, ivf: bool) -> dict:
    import lancedb
    from lancedb.index import FTS, IvfPq
    from lancedb.rerankers import RRFReranker

    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((rows, 384)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words = np.array(["trade", "buy", "sell", "rug", "peak", "tick", "game", "chat", "player", "sidebet", "leaderboard", "price", "cash"])
    texts = [" ".join(rng.choice(words, 8)) for _ in range(rows)]
    kinds = np.array(["trade", "chat", "game", "protocol"])[rng.integers(0, 4, rows)]
    table = pa.table({"id": [f"r{i}" for i in range(rows)], "text": texts, "kind": kinds,
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), 384)})
    db = lancedb.connect(str(work / "lat"))
    t0 = time.perf_counter()
    tbl = db.create_table("bench", table)
    append_s = time.perf_counter() - t0
    tbl.create_index("text", config=FTS())
    queries = rng.standard_normal((60, 384)).astype("float32")
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)

    def lat(fn) -> tuple[float, float]:
        fn(queries[0])  # warm caches
        times = []
        for q in queries[1:]:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
        return round(pct(times, 50), 2), round(pct(times, 95), 2)

    out = {"rows": rows, "append_rows_per_s": round(rows / append_s)}
    out["flat_p50_ms"], out["flat_p95_ms"] = lat(lambda q: tbl.search(q).limit(10).to_arrow())
    if ivf:
        t0 = time.perf_counter()
        tbl.create_index("vector", config=IvfPq(distance_type="cosine"))
        out["ivf_pq_build_s"] = round(time.perf_counter() - t0, 1)
        out["ivf_p50_ms"], out["ivf_p95_ms"] = lat(lambda q: tbl.search(q).limit(10).to_arrow())
    out["fts_p50_ms"], out["fts_p95_ms"] = lat(lambda q: tbl.search("rug peak", query_type="fts").limit(10).to_arrow())
    out["hybrid_p50_ms"], out["hybrid_p95_ms"] = lat(
        lambda q: tbl.search(query_type="hybrid").vector(q).text("rug peak").rerank(RRFReranker()).limit(10).to_arrow())
    out["hybrid_filtered_p50_ms"], out["hybrid_filtered_p95_ms"] = lat(
        lambda q: tbl.search(query_type="hybrid").vector(q).text("rug peak").rerank(RRFReranker())
        .where("kind = 'trade'").limit(10).to_arrow())
    embedder = get_embedder()
    times = []
    for text in ["What fields are in playerUpdate?", "why are prices decimals?"] * 10:
        t = time.perf_counter()
        embedder.embed([text])
        times.append(time.perf_counter() - t)
    out["query_embed_p50_ms"] = round(pct(times, 50), 2)
    return out


def synthetic_events_table(paths: DataPaths, rows: int, ivf: bool) -> float:
    """An `events` table of `rows` random unit vectors in vectra's schema, with the indexes a build of that
    size makes (FTS, and IVF_PQ when `ivf`); seconds it took. Also used by bench/mcp.py."""
    embedder = get_embedder()
    rng = np.random.default_rng(2)
    vecs = rng.standard_normal((rows, embedder.dim)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    words = np.array(["trade", "buy", "sell", "rug", "peak", "tick", "game", "chat", "player", "sidebet",
                      "leaderboard", "price", "cash", "fields", "playerUpdate", "decimals"])
    kinds = np.array(["trade", "chat", "game", "protocol"])[rng.integers(0, 4, rows)]
    schema = table_schema(embedder)
    cols = {"id": [f"r{i}" for i in range(rows)], "text": [" ".join(rng.choice(words, 8)) for _ in range(rows)],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), embedder.dim),
            "kind": kinds, "event_name": [None] * rows, "game_id": [None] * rows, "player_id": [None] * rows,
            "date": ["2025-11-06"] * rows, "source_file": ["bench"] * rows, "path": [None] * rows,
            "text_hash": ["x"] * rows}
    data = pa.table({f.name: pa.array(cols[f.name], type=f.type) for f in schema}, schema=schema)
    t0 = time.perf_counter()
    tbl = connect(paths).create_table("events", data=data, schema=schema)
    if ivf:
        ensure_indexes(tbl, rows)  # FTS + IVF_PQ, as a build of this size would make
    else:
        ensure_indexes(tbl, 0)  # FTS only: flat vector search
    return time.perf_counter() - t0


QUESTIONS = ["What fields are in playerUpdate?", "why are prices decimals?", "when did the game rug at its peak?",
             "which player sold at the top?", "side bet payout", "chat about the leaderboard", "buy and sell cash",
             "price tick of a rug", "sidebet leaderboard player chat", "game peak price"]


def lancedb_hybrid(paths: DataPaths, embedder) -> Callable[..., list[dict]]:
    """The baseline: what `search()` ran before, LanceDB's own (sync) hybrid query with its RRFReranker,
    on a table kept open (no per-query version check: a little less work than `search()` does)."""
    from lancedb.rerankers import RRFReranker

    tbl = open_table(paths, "events")

    def run(text: str, where: str | None = None, limit: int = 10) -> list[dict]:
        vector = embedder.embed([text])[0]
        query = (tbl.search(query_type="hybrid", vector_column_name="vector").vector(vector).text(fts_text(text))
                 .select(list(RESULT_COLUMNS)).rerank(RRFReranker()).limit(limit))
        rows = (query.where(where, prefilter=True) if where else query).to_list()
        return [{"score": round(float(r["_relevance_score"]), 6), **{c: r.get(c) for c in RESULT_COLUMNS}} for r in rows]

    return run


def search_vs_lancedb_hybrid(paths: DataPaths, embedder, where: str | None, rounds: int = 5) -> dict:
    """`search()` and the baseline on the same questions, alternated (which goes first too, so machine
    load hits both alike): p50/p95 of each, the p50 ratio, and whether every answer (ids, order, scores)
    is the same."""
    baseline = lancedb_hybrid(paths, embedder)
    ours = {"search": lambda q: search(q, "events", where=where, limit=10, paths=paths, embedder=embedder),
            "lancedb_hybrid": lambda q: baseline(q, where)}
    differ = [q for q in QUESTIONS if ours["search"](q) != ours["lancedb_hybrid"](q)]  # also warms both
    times: dict[str, list[float]] = {name: [] for name in ours}
    for i, q in enumerate(QUESTIONS * rounds):
        for name in (list(ours) if i % 2 else list(ours)[::-1]):
            t = time.perf_counter()
            ours[name](q)
            times[name].append(time.perf_counter() - t)
    out = {f"{name}_{p}_ms": round(pct(ts, int(p[1:])), 2) for name, ts in times.items() for p in ("p50", "p95")}
    out["search_vs_lancedb_hybrid_p50"] = round(out["search_p50_ms"] / out["lancedb_hybrid_p50_ms"], 3)
    out["same_answers"] = f"{len(QUESTIONS) - len(differ)}/{len(QUESTIONS)}"
    if differ:
        out["differ"] = differ
    return out


def e2e_table(paths: DataPaths, rows: int, ivf: bool) -> float | None:
    """The bench table of bench_e2e: built (seconds it took), or None when `paths` already has one of
    `rows` rows with the indexes (a kept --e2e-dir)."""
    if table_exists(paths, "events"):
        tbl = open_table(paths, "events")
        names = {i.name for i in tbl.list_indices()}
        if tbl.count_rows() == rows and ("vector_idx" in names) == ivf:
            return None
        remove_table_folder(paths, "events")
    return synthetic_events_table(paths, rows, ivf)


def bench_e2e(work: Path, rows: int, ivf: bool, keep: Path | None = None) -> dict:
    """vectra's own search over a table in vectra's schema (indexes made by the build's ensure_indexes),
    against LanceDB's own hybrid query (the baseline, same run)."""
    paths = DataPaths.resolve(keep or work / "e2e")
    embedder = get_embedder()
    embedder.warm()
    setup_s = e2e_table(paths, rows, ivf)
    out: dict = {"rows": rows, "index": "ivf_pq" if ivf else "flat",
                 "setup_s": "reused" if setup_s is None else round(setup_s, 1)}

    def lat(fn) -> tuple[float, float]:
        fn(QUESTIONS[0])
        times = []
        for q in QUESTIONS * 3:
            t = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t)
        return round(pct(times, 50), 2), round(pct(times, 95), 2)

    out["open_table_p50_ms"], out["open_table_p95_ms"] = lat(lambda q: open_table(paths, "events"))
    out["embed_query_p50_ms"], out["embed_query_p95_ms"] = lat(lambda q: embedder.embed([q]))
    out["unfiltered"] = search_vs_lancedb_hybrid(paths, embedder, None)
    out["filtered"] = search_vs_lancedb_hybrid(paths, embedder, "kind = 'trade'")
    out["search_e2e_p50_ms"], out["search_e2e_p95_ms"] = out["unfiltered"]["search_p50_ms"], out["unfiltered"]["search_p95_ms"]
    out["search_e2e_filtered_p50_ms"] = out["filtered"]["search_p50_ms"]
    out["search_e2e_filtered_p95_ms"] = out["filtered"]["search_p95_ms"]
    # the same filtered search, the question embedded by torch
    torch_embedder = get_embedder(TORCH_MINILM)
    torch_embedder.warm()
    out["torch_embed_query_p50_ms"], out["torch_embed_query_p95_ms"] = lat(lambda q: torch_embedder.embed([q]))
    out["torch_search_e2e_filtered_p50_ms"], out["torch_search_e2e_filtered_p95_ms"] = lat(
        lambda q: search(q, "events", where="kind = 'trade'", limit=10, paths=paths, embedder=torch_embedder))
    out["filtered_p50_onnx_vs_torch"] = round(out["search_e2e_filtered_p50_ms"] / out["torch_search_e2e_filtered_p50_ms"], 3)
    return out


# ---- one synthetic day of live feed -------------------------------------------------------------

DAY = {"games": 1_400, "trades": 35_000, "chat": 3_000, "sidebets": 4_000, "system": 200}


def synthetic_day(paths: DataPaths, scale: float) -> dict[str, list[dict]]:
    """A day of feed as raw ws_event / system_event rows (trades, chat, side bets, system events) plus
    the games' rows, `scale` times the sizes of DAY; returns the generated items by kind."""
    rng = np.random.default_rng(11)
    n = {k: max(1, int(v * scale)) for k, v in DAY.items()}
    trace = next(e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade")[0]
    base_us = 1_765_000_000_000_000
    games = [f"20251206-{i:04x}{int(rng.integers(1 << 32)):08x}" for i in range(n["games"])]
    players = [(f"did:privy:cm{int(rng.integers(1 << 62)):x}", f"player{i}") for i in range(900)]
    items: dict[str, list[dict]] = {"trade": [], "chat": [], "sidebet": []}
    recs = []

    def add(name: str, payload: dict, i: int, gid: str | None, pid: str | None, user: str | None) -> None:
        recs.append(RawRecord("ws_event", base_us + i * 1_000_000 // 8, i, "replay", "day-session",
                              json.dumps([name, trace, payload]).encode(), event_name=name, game_id=gid,
                              player_id=pid, username=user))

    for i in range(n["trades"]):
        g = i * n["games"] // n["trades"]
        gid = games[g]
        # ~12 traders per game, most trading more than once (buy, then sell or short)
        pid, user = players[(g * 37 + int(rng.integers(12))) % len(players)]
        t = {"id": str(uuid.UUID(int=int(rng.integers(1 << 62)) << 64 | i)), "gameId": gid, "playerId": pid,
             "username": user, "level": int(rng.integers(1, 80)), "type": ["buy", "sell", "short_open", "short_close"][i % 4],
             "amount": round(float(rng.uniform(0.001, 2)), 3), "coin": "solana", "price": round(float(rng.uniform(0.2, 5)), 6),
             "tickIndex": int(rng.integers(0, 400)), "qty": round(float(rng.uniform(0.001, 5)), 6)}
        items["trade"].append(t)
        add("standard/newTrade", t, i, gid, pid, user)
    for i in range(n["chat"]):
        pid, user = players[int(rng.integers(len(players)))]
        c = {"playerId": pid, "username": user, "level": 5, "message": f"gl everyone, rug at {i % 9}x soon? #{i}",
             "timestamp": 1_765_000_000_000 + i}
        items["chat"].append(c)
        add("newChatMessage", c, n["trades"] + i, None, pid, user)
    for i in range(n["sidebets"]):
        pid, user = players[int(rng.integers(len(players)))]
        gid = games[i * n["games"] // n["sidebets"]]
        b = {"playerId": pid, "username": user, "gameId": gid, "type": "sidebet", "betAmount": 0.05, "xPayout": 5,
             "startTick": i % 300, "endTick": i % 300 + 40, "payout": 0.25 if i % 5 == 0 else 0, "profit": -0.05}
        items["sidebet"].append(b)
        add("currentSidebetResult", b, n["trades"] + n["chat"] + i, gid, pid, user)
    write_records(paths, recs, "day")
    system = [RawRecord("system_event", base_us + i * 400_000_000, i, "daemon", "day-session",
                        json.dumps({"event": "reconnect", "attempt": i % 3, "reason": "transport close"}).encode(),
                        event_name="daemon.reconnect") for i in range(n["system"])]
    write_records(paths, system, "day")
    items["game"] = [{"game_id": g} for g in games]
    return items


def _game_text(gid: str, i: int) -> str:
    from vectra_pipeline.index.docs.games import _game_doc

    row = {"game_id": gid, "max_tick": 100 + i % 300, "peak": 1 + (i % 50) / 7, "rug_tick": 100 + i % 300,
           "rug_price": 0.004, "trade_count": 25, "sources": ["gameStateUpdate"], "completed": True}
    return _game_doc(row, {"global_trades": 25, "global_sidebets": 3, "seed_verified": True}, "x").text


def per_item_texts(items: dict[str, list[dict]], at: str = "2025-12-06 05:46:40") -> dict[str, list[str]]:
    """The baseline: one document per trade and per side bet, in the text the builders gave before
    documents version 2 (docs/decisions/0014)."""
    trades = []
    for t in items["trade"]:
        who = f"{t['username']} ({t['playerId']})"
        trades.append(f"Trade {t['type']} by {who} (level {t['level']}) in game {t['gameId']} at tick {t['tickIndex']}: "
                      f"amount {t['amount']} {t['coin']} at price {t['price']}, qty {t['qty']}. Time {at} UTC.")
    bets = []
    for b in items["sidebet"]:
        fields = ", ".join(f"{k} {b[k]}" for k in ("type", "betAmount", "xPayout", "startTick", "endTick", "payout",
                                                   "profit") if b.get(k) is not None)
        bets.append(f"Side bet (currentSidebetResult) by {b['username']} ({b['playerId']}) in game {b['gameId']}: "
                    f"{fields}. Time {at} UTC.")
    return {"trade": trades, "sidebet": bets}


def _embed_rates(embedder, texts: dict[str, list[str]], sample: int, rounds: int) -> dict[str, float]:
    """docs/s of each text set on `sample` random texts, embedded as a build pads them (below), the sets
    alternated round by round (the machine's load hits all of them alike); the median of the rounds."""
    rng = np.random.default_rng(3)
    picks = {k: [ts[i] for i in rng.choice(len(ts), min(sample, len(ts)), replace=False)] for k, ts in texts.items()}
    # a build embeds EMBED_CHUNK texts per call, sorted by length, in batches of 32: each batch holds a
    # sixth of the chunk's lengths and pads to its longest. The sample is cut the same way: sorted, six
    # parts, each part repeated to a batch of 32 (a text costs what any text of its length costs); else
    # 64 texts in two batches pad far more than a build does for kinds of varied length.
    batch = getattr(embedder, "batch_size", 32)
    parts = max(1, EMBED_CHUNK // batch)
    for kind, pick in picks.items():
        pick.sort(key=embedder.count_tokens)
        cut = [c.tolist() for c in np.array_split(np.array(pick, dtype=object), min(parts, len(pick)))]
        picks[kind] = [(c * -(-batch // len(c)))[:batch] for c in cut]
    rates: dict[str, list[float]] = {k: [] for k in texts}
    for _ in range(rounds):
        for kind, calls in picks.items():
            t0 = time.perf_counter()
            for call in calls:
                embedder.embed(call)
            rates[kind].append(sum(map(len, calls)) / (time.perf_counter() - t0))
    return {k: float(np.median(v)) for k, v in rates.items()}


def bench_day(work: Path, scale: float, sample: int, rounds: int = 3) -> dict:
    """Indexing one day of live feed: documents per day by kind as the builders make them (trades and
    side bets one per game and player), mean tokens, the seconds to build them (measured, the real
    builders over real Parquet) and to embed them (each kind's docs/s on a sample of `sample` texts
    with the default embedder, times the day's count: embedding all of a day here would take long on a
    loaded 2-core machine). The baseline, measured in the same run and alternated with the built kinds:
    the documents of version 1 (one per trade and per side bet; trades, side bets and chat embedded with
    their player and game ids and times)."""
    from vectra_pipeline import duck
    from vectra_pipeline.index.docs import feed, player_games
    from vectra_pipeline.index.docs.common import source_key

    paths = DataPaths.resolve(work / "day")
    items = synthetic_day(paths, scale)
    embedder = get_embedder()
    embedder.warm()
    con = duck.connect()
    t0 = time.perf_counter()
    ws = {source_key(paths, f): f for f in sorted(paths.doc_type_dir("ws_event").glob("date=*/*.parquet"))}
    docs = player_games.player_game_docs(paths, con, ws, ws)
    for f in ws.values():
        docs += feed.short_docs_for_file(paths, con, f)
    for f in sorted(paths.doc_type_dir("system_event").glob("date=*/*.parquet")):
        docs += feed.system_docs_for_file(paths, con, f)
    docs_s = (time.perf_counter() - t0) / scale
    con.close()
    texts: dict[str, list[str]] = {}  # what the model embeds (a document's embed_text when it has one)
    for d in docs:
        texts.setdefault(d.kind, []).append(embedder.trim(d.embed_text or d.text))
    texts["game"] = [_game_text(g["game_id"], i) for i, g in enumerate(items["game"])]
    baseline = {f"{k}_per_item": [embedder.trim(t) for t in v] for k, v in per_item_texts(items).items()}
    baseline["chat_per_item"] = [embedder.trim(d.text) for d in docs if d.kind == "chat"]  # ids and time embedded
    embedder.embed(texts["trade"][:16])  # warm-up
    rates = _embed_rates(embedder, {**texts, **baseline}, sample, rounds)
    kinds: dict[str, dict] = {}
    for kind, ts in {**texts, **baseline}.items():
        per_day = round(len(ts) / scale)
        mean_tokens = float(np.mean([embedder.count_tokens(t) for t in ts]))
        kinds[kind] = {"docs_per_day": per_day, "mean_tokens": round(mean_tokens, 1),
                       "tokens_per_day": round(per_day * mean_tokens), "docs_per_s": round(rates[kind], 1),
                       "embed_s_per_day": round(per_day / rates[kind], 1)}
    built = [k for k in texts]
    per_item = [k for k in built if k not in ("trade", "sidebet", "chat")] + list(baseline)
    embed_built = sum(kinds[k]["embed_s_per_day"] for k in built)
    embed_per_item = sum(kinds[k]["embed_s_per_day"] for k in per_item)
    tokens_built = sum(kinds[k]["tokens_per_day"] for k in built)
    tokens_per_item = sum(kinds[k]["tokens_per_day"] for k in per_item)
    return {"scale": scale, "day": DAY, "sample": sample, "rounds": rounds, "kinds": kinds,
            "docs_per_day": sum(kinds[k]["docs_per_day"] for k in built),
            "docs_per_day_per_item": sum(kinds[k]["docs_per_day"] for k in per_item),
            "tokens_per_day": tokens_built, "tokens_per_day_per_item": tokens_per_item,
            "build_docs_s_per_day": round(docs_s, 1), "embed_s_per_day": round(embed_built, 1),
            "embed_s_per_day_per_item": round(embed_per_item, 1),
            "seconds_per_day": round(embed_built + docs_s, 1), "target_s_per_day": 120,
            "tokens_vs_per_item": round(tokens_built / tokens_per_item, 3),
            "embed_vs_per_item": round(embed_built / embed_per_item, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trades", type=int, default=400)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--no-ivf", action="store_true")
    ap.add_argument("--only-e2e", action="store_true", help="Only the end-to-end search part.")
    ap.add_argument("--e2e-dir", type=Path, help="Keep the end-to-end part's table here, reused by the next run.")
    ap.add_argument("--only-day", action="store_true", help="Only the one-day indexing part.")
    ap.add_argument("--day-scale", type=float, default=1.0, help="Fraction of a day to generate (docs/day scale back up).")
    ap.add_argument("--day-sample", type=int, default=96, help="Texts per kind embedded to measure its docs/s.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {}
        if not args.only_e2e:
            result["day"] = bench_day(Path(tmp), args.day_scale, args.day_sample)
        if not args.only_day:
            if not args.only_e2e:
                result.update({"build": bench_build(Path(tmp), args.trades),
                               "query": bench_query(Path(tmp), args.rows, not args.no_ivf)})
            result["search_e2e"] = bench_e2e(Path(tmp), args.rows, not args.no_ivf, args.e2e_dir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
