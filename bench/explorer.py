"""Protocol Explorer benchmark: every page's latency on a 30-day synthetic data root (target: well under a
second each), as ratios against a baseline measured in the same run (the explorer serving its stylesheet:
one HTTP round trip through the same server, no data).

The root: `--days` UTC days of raw ws_event rows (real fixture payloads, re-stamped; `--events-per-day`,
rolled into `--files-per-day` files like the daemon's spool rolls) and typed tables written straight in
their contract schemas (`--games-per-day` games, ~190 ticks and ~20 trades each, a complete_game row with
its price list). The events vector table is built from the fixtures only (search latency at 100k rows is
bench/index.py's job). The explorer runs as a real `vectra explorer` process; each page is fetched once
cold (right after start: the explorer reads the month in a background warm-up) and then `--repeat` times.

    .venv/bin/python bench/explorer.py [--days 30] [--events-per-day 4000] [--games-per-day 1400]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from vectors_helpers import fixture_records, write_fixture_raw  # noqa: E402

from vectra_capture.store import replace_partition, write_records  # noqa: E402
from vectra_capture.store.envelope import RawRecord  # noqa: E402
from vectra_capture.store.layout import DataPaths  # noqa: E402
from vectra_pipeline.derive.schemas import TYPED_SCHEMAS  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the synthetic root


def write_raw(paths: DataPaths, days: int, per_day: int, files_per_day: int) -> int:
    """Fixture payloads re-stamped over each day; transition payloads (300 KB gameHistory) twice a day."""
    templates = fixture_records()
    small = [r for r in templates if len(r.raw) < 20_000]
    big = [r for r in templates if len(r.raw) >= 20_000]
    session = str(uuid.uuid4())
    seq = 0
    per_file = max(1, per_day // files_per_day)
    for day in range(days):
        base = int((START + timedelta(days=day)).timestamp() * 1e6)
        step = 86_400_000_000 // per_day
        recs = []
        for i in range(per_day):
            t = big[(day + i) % len(big)] if big and i in (per_day // 3, 2 * per_day // 3) else small[i % len(small)]
            seq += 1
            recs.append(RawRecord("ws_event", base + i * step, seq, "public_ws", session, t.raw,
                                  event_name=t.event_name, game_id=t.game_id, player_id=t.player_id,
                                  username=t.username))
            if len(recs) == per_file:
                write_records(paths, recs, session)
                recs = []
        if recs:
            write_records(paths, recs, session)
    return seq


def _envelope(n: int, ts: np.ndarray, doc_type: str, game_ids: list[str]) -> dict:
    return {"ts": pa.array(ts, pa.timestamp("us", tz="UTC")), "source": ["public_ws"] * n, "doc_type": [doc_type] * n,
            "session_id": ["bench"] * n, "game_id": game_ids, "player_id": [None] * n, "username": [None] * n,
            "seq": pa.array(np.arange(n), pa.int64()), "direction": ["received"] * n, "raw_json": ["{}"] * n,
            "event_name": [None] * n}


def _dec(values: np.ndarray) -> pa.Array:
    return pa.array(np.round(values, 6)).cast(pa.decimal128(38, 24), safe=False)


def _table(doc_type: str, columns: dict) -> pa.Table:
    schema = TYPED_SCHEMAS[doc_type]
    return pa.table({f.name: columns.get(f.name, pa.nulls(len(columns["ts"]), f.type)) for f in schema}, schema=schema)


def write_typed(paths: DataPaths, days: int, games_per_day: int, rng: np.random.Generator) -> dict:
    totals = {"games": 0, "game_tick": 0, "player_action": 0, "complete_game": 0}
    for day in range(days):
        date = (START + timedelta(days=day)).strftime("%Y-%m-%d")
        base = int((START + timedelta(days=day)).timestamp() * 1e6)
        gids = [f"{date.replace('-', '')}-{rng.integers(1 << 62):016x}" for _ in range(games_per_day)]
        lengths = np.clip(rng.lognormal(5.0, 0.8, games_per_day).astype(int), 2, 1800)
        starts = base + np.arange(games_per_day) * (86_400_000_000 // games_per_day)
        tick_gid, tick_no, tick_ts, prices, peaks, rug_prices, price_lists = [], [], [], [], [], [], []
        for g, n in zip(gids, lengths, strict=True):
            walk = np.exp(np.cumsum(rng.normal(0.002, 0.05, n)))
            walk[-1] = 0.005
            tick_gid += [g] * n
            tick_no.append(np.arange(n))
            tick_ts.append(np.arange(n) * 250_000)
            prices.append(walk)
            peaks.append(walk.max())
            rug_prices.append(walk[-1])
            price_lists.append(walk)
        offsets = np.repeat(starts, lengths)
        ticks = np.concatenate(tick_no)
        n_ticks = len(ticks)
        rugged = np.zeros(n_ticks, bool)
        rugged[np.cumsum(lengths) - 1] = True
        replace_partition(paths, "game_tick", date, _table("game_tick", {
            **_envelope(n_ticks, offsets + np.concatenate(tick_ts), "game_tick", tick_gid),
            "phase": pa.array(np.where(rugged, "rugged", "active")), "tick": pa.array(ticks, pa.int64()),
            "price": _dec(np.concatenate(prices)), "active": pa.array(np.ones(n_ticks, bool)),
            "rugged": pa.array(rugged)}))
        n_trades_per = rng.poisson(20, games_per_day)
        t_gid = [g for g, k in zip(gids, n_trades_per, strict=True) for _ in range(k)]
        n_tr = len(t_gid)
        t_tick = np.concatenate([rng.integers(0, n, k) for n, k in zip(lengths, n_trades_per, strict=True)])
        t_ts = np.repeat(starts, n_trades_per) + t_tick * 250_000
        t_price = np.concatenate([p[rng.integers(0, len(p), k)] for p, k in zip(prices, n_trades_per, strict=True)])
        replace_partition(paths, "player_action", date, _table("player_action", {
            **_envelope(n_tr, t_ts, "player_action", t_gid), "action_kind": ["trade"] * n_tr,
            "action_id": [str(uuid.UUID(int=int(x))) for x in rng.integers(1 << 62, size=n_tr)],
            "action_type": pa.array(rng.choice(["buy", "sell", "short_open", "short_close"], n_tr)),
            "tick": pa.array(t_tick, pa.int64()), "price": _dec(t_price),
            "amount": _dec(rng.uniform(0.001, 2, n_tr))}))
        end_ts = starts + lengths * 250_000
        replace_partition(paths, "complete_game", date, _table("complete_game", {
            **_envelope(games_per_day, end_ts, "complete_game", gids),
            "peak_multiplier": _dec(np.array(peaks)), "rug_price": _dec(np.array(rug_prices)),
            "seed_verified": pa.array(np.ones(games_per_day, bool)), "tick_count": pa.array(lengths, pa.int64()),
            "prices": pa.array([_dec(p).to_pylist() for p in price_lists], pa.list_(pa.decimal128(38, 24)))}))
        replace_partition(paths, "games", date, _table("games", {
            **_envelope(games_per_day, starts, "games", gids),
            "first_seen": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "last_seen": pa.array(end_ts, pa.timestamp("us", tz="UTC")),
            "ticks": pa.array(lengths, pa.int64()), "max_tick": pa.array(lengths - 1, pa.int64()),
            "peak": _dec(np.array(peaks)), "rug_tick": pa.array(lengths - 1, pa.int64()),
            "rug_price": _dec(np.array(rug_prices)), "trade_count": pa.array(n_trades_per, pa.int64()),
            "sources": [["public_ws"]] * games_per_day, "completed": pa.array(np.ones(games_per_day, bool)),
            "seed_verified": pa.array(np.ones(games_per_day, bool))}))
        totals["games"] += games_per_day
        totals["game_tick"] += n_ticks
        totals["player_action"] += n_tr
        totals["complete_game"] += games_per_day
    return totals


def fixture_vectors(paths: DataPaths, work: Path) -> None:
    """The events table of the fixtures, built by `vectra index build` (its progress output kept off stdout)."""
    small = DataPaths.resolve(work / "fixture-root")
    write_fixture_raw(small)
    subprocess.run([sys.executable, "-m", "vectra_pipeline.cli", "index", "build", "--full", "--table", "events",
                    "--data-dir", str(small.root)], check=True, stdout=sys.stderr, env=_env())
    shutil.copytree(small.vectors, paths.vectors, dirs_exist_ok=True)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# ---------------------------------------------------------------- timing


def get(url: str) -> tuple[int, float, int]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=300) as r:
            body = r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        body, status = exc.read(), exc.code
    return status, time.perf_counter() - started, len(body)


def measure(paths: DataPaths, work: Path, repeat: int, days: int) -> dict:
    """Start `vectra explorer`, fetch each page once cold, then `repeat` times; stop it."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vectra_pipeline.cli", "explorer", "--port", str(port),
                             "--data-dir", str(paths.root)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=open(work / "explorer.err", "a"))  # noqa: SIM115
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get(base + "/static/explorer.css")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        game = json.loads(urllib.request.urlopen(base + "/api/games?limit=1").read())["items"][0]["game_id"]
        page_paths = {
            "overview": "/", "live": "/live", "events": "/events", "event gameStateUpdate": "/events/gameStateUpdate",
            "event standard/newTrade": "/events/" + quote("standard/newTrade", safe=""), "games": "/games",
            "games of one day": "/games?date=" + (START + timedelta(days=days // 2)).strftime("%Y-%m-%d"),
            "game": "/games/" + game, "search page (form)": "/search",
            "search": "/search?" + urlencode({"q": "the player's cash balance and position", "table": "events"}),
            "api events": "/api/events", "api game": "/api/games/" + game,
        }
        cold = {name: get(base + p)[1] for name, p in page_paths.items()}
        baseline = sorted(get(base + "/static/explorer.css")[1] for _ in range(repeat * 2))
        pages = {}
        for name, p in page_paths.items():
            times, status, size = [], None, 0
            for _ in range(repeat):
                status, t, size = get(base + p)
                times.append(t)
            times.sort()
            pages[name] = {"status": status, "bytes": size, "cold_ms": round(cold[name] * 1000, 1),
                           "p50_ms": round(times[len(times) // 2] * 1000, 1), "max_ms": round(times[-1] * 1000, 1),
                           "under_1s": times[-1] < 1.0}
        return {"baseline": baseline[len(baseline) // 2], "pages": pages}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--events-per-day", type=int, default=4000)
    ap.add_argument("--files-per-day", type=int, default=24)
    ap.add_argument("--games-per-day", type=int, default=1400)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="Keep the data root (its path is printed).")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vectra-bench-explorer-"))
    paths = DataPaths.resolve(work / "data")
    rng = np.random.default_rng(11)
    t0 = time.perf_counter()
    raw_rows = write_raw(paths, args.days, args.events_per_day, args.files_per_day)
    typed = write_typed(paths, args.days, args.games_per_day, rng)
    build_s = time.perf_counter() - t0
    fixture_vectors(paths, work)
    raw_bytes = sum(f.stat().st_size for f in paths.doc_type_dir("ws_event").rglob("*.parquet"))
    try:
        first = measure(paths, work, args.repeat, args.days)
        again = measure(paths, work, args.repeat, args.days)  # a restart: statistics from the shared cache
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    base_p50 = again["baseline"]
    pages = {}
    for name, m in again["pages"].items():
        pages[name] = {**m, "cold_first_start_ms": first["pages"][name]["cold_ms"],
                       "ratio_to_baseline": round(m["p50_ms"] / 1000 / base_p50, 1)}
    print(json.dumps({
        "data_root": {"days": args.days, "raw_ws_event_rows": raw_rows, "raw_files": args.days * args.files_per_day,
                      "raw_mb": round(raw_bytes / 1e6, 1), **{f"{k}_rows": v for k, v in typed.items()},
                      "build_s": round(build_s, 1), "kept_at": str(work) if args.keep else None},
        "baseline_static_p50_ms": round(base_p50 * 1000, 2),
        "pages": pages,
        "all_pages_under_1s": all(p["under_1s"] for p in pages.values()),
        "note": "p50/max: warm requests; cold_ms: the first request after a restart (per-file protocol statistics"
                " from the cache shared with the vector index); cold_first_start_ms: the very first start, which"
                " parses every raw file once; a first search also loads the embedding model",
    }, indent=2))


if __name__ == "__main__":
    main()
