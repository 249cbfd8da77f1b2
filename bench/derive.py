"""Benchmark: one synthetic day of raw ws_event Parquet at the real feed's shape and volume
(docs/protocol.md: ~1,400 games, ~0.5 M events, 3-5 GB of JSON) -> all typed partitions.

Payloads are built from the real fixture payloads (same keys, leaderboards, rugRoyale blobs,
gameHistory entries with real globalTrades) with varied ids, prices, ticks and positions.
Reports derive seconds, CPU seconds, raw MB/s and peak RSS (each run in a child process) next to the
floor: one DuckDB read_parquet + json_extract of the same fields, and their ratio (wall and CPU);
`--repeat N` interleaves N floor/derive pairs and reports the medians.

    .venv/bin/python bench/derive.py                # full day (generation takes a few minutes)
    .venv/bin/python bench/derive.py --scale 0.1 --repeat 3    # quick run, 3 interleaved pairs
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectra_capture.store import write_partition_file  # noqa: E402
from vectra_capture.store.envelope import WS_EVENT_SCHEMA  # noqa: E402
from vectra_capture.store.layout import DataPaths  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "raw"
DAY = "2026-01-15"
GAMES_PER_DAY = 1400
CHUNK = 50_000  # rows per raw file (a capture session roll)


def _payload(data):
    return data[-1] if isinstance(data, list) and data and isinstance(data[0], dict) and "__trace" in data[0] else data


def load_templates() -> dict:
    samples = [json.loads(line) for line in (FIX / "websocket_raw_samples.jsonl").read_text().splitlines()]
    play = next(_payload(r["data"]) for r in samples if r["event_type"] == "gameStateUpdate"
                and _payload(r["data"]).get("active") and "gameHistory" not in _payload(r["data"]))
    cool = next(_payload(r["data"]) for r in samples if r["event_type"] == "gameStateUpdate"
                and "tickCount" not in _payload(r["data"]))
    trade = next(_payload(r["data"]) for r in samples if r["event_type"] == "standard/newTrade")
    chat = next(_payload(r["data"]) for r in samples if r["event_type"] == "newChatMessage")
    hist_file = next((FIX / "auth_examples").glob("*_gameStateUpdate.json"))
    history = json.loads(hist_file.read_text())["data"]["gameHistory"]
    return {"play": play, "cool": cool, "trade": trade, "chat": chat, "history": history,
            "entry": play["leaderboard"][0]}


def _static(payload: dict, dynamic: set[str]) -> str:
    """The payload's other keys as a JSON fragment (no braces) to append after the dynamic ones."""
    rest = {k: v for k, v in payload.items() if k not in dynamic}
    return json.dumps(rest, separators=(",", ":"))[1:-1]


class Generator:
    def __init__(self, t: dict, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        dyn = {"gameId", "tickCount", "price", "active", "rugged", "cooldownTimer", "tradeCount", "leaderboard",
               "allowPreRoundBuys", "partialPrices", "connectedPlayers"}
        self.play_static = _static(t["play"], dyn)
        self.cool_static = _static(t["cool"], dyn)
        self.trade_t = t["trade"]
        self.chat_static = _static(t["chat"], {"message", "timestamp"})
        self.hist_t = t["history"]
        self.entry_t = t["entry"]
        self.players = [f"did:privy:bench{i:017d}" for i in range(300)]
        self.recent: list[str] = []  # last 10 finished games as gameHistory entry JSON

    def entry(self, pid: str, qty: float, cost: float, pnl: float, rank: int) -> str:
        e = dict(self.entry_t, id=pid, username=pid[-6:], positionQty=qty, avgCost=cost, pnl=pnl, regularPnl=pnl,
                 totalInvested=round(qty * cost, 9), position=rank, hasActiveTrades=qty > 0)
        return json.dumps(e, separators=(",", ":"))

    def history_entry(self, gid: str, prices: list[float], ts_ms: int) -> str:
        seed = hashlib.sha256(gid.encode()).hexdigest()
        base = self.hist_t[self.rng.randrange(len(self.hist_t))]
        e = dict(base, id=gid, timestamp=ts_ms, prices=prices, peakMultiplier=max(prices), rugged=True,
                 provablyFair={"serverSeed": seed, "serverSeedHash": hashlib.sha256(seed.encode()).hexdigest()})
        # real entries carry ~100 globalTrades: pad from the fixture's own lists to the real 270-375 KB payloads
        trades = (base.get("globalTrades") or []) + (self.hist_t[0].get("globalTrades") or [])
        e["globalTrades"] = (trades * 4)[:120]
        return json.dumps(e, separators=(",", ":"))

    def game(self, n: int, start_us: int):
        """Yield (ts_us, event_name, raw_json, game_id, player_id, username) for one game and its cooldown."""
        rng = self.rng
        gid = f"{DAY.replace('-', '')}-{rng.getrandbits(64):016x}"
        length = max(2, min(1800, int(rng.lognormvariate(4.95, 0.75))))  # median ~140, mean ~190
        ts = start_us
        lb_players = rng.sample(self.players, 10)
        lb = [self.entry(p, 0.0, 0.0, 0.0, i + 1) for i, p in enumerate(lb_players)]
        history_payload = None
        # cooldown + presale: 15 s at 100 ms, plus the genesis broadcast carrying gameHistory
        for i, timer in enumerate(range(14900, -100, -100)):
            body = (f'{{"gameId":"{gid}","cooldownTimer":{timer},"allowPreRoundBuys":{"true" if timer <= 10000 else "false"},'
                    f'"connectedPlayers":{200 + n % 50},"leaderboard":[{",".join(lb)}],{self.cool_static}}}')
            yield ts, "gameStateUpdate", f'["gameStateUpdate",{body}]', gid, None, None
            ts += 100_000
            if i == 1 and self.recent:
                history_payload = ",".join(self.recent)
                body = (f'{{"gameId":"{gid}","cooldownTimer":15000,"tickCount":0,"allowPreRoundBuys":false,'
                        f'"leaderboard":[{",".join(lb)}],"gameHistory":[{history_payload}],{self.cool_static}}}')
                yield ts, "gameStateUpdate", f'["gameStateUpdate",{body}]', gid, None, None
        price, prices, trades = 1.0, [], 0
        for tick in range(length + 1):
            rugged = tick == length
            price = price * rng.uniform(0.9, 1.12) if not rugged else price * rng.uniform(0.001, 0.02)
            prices.append(price)
            if rng.random() < 0.12:  # a trade: a leaderboard position moves
                k = rng.randrange(10)
                qty = round(rng.uniform(0.001, 2.0), 9)
                lb[k] = self.entry(lb_players[k], qty, round(price, 9), round(rng.uniform(-1, 1), 9), k + 1)
                trades += 1
                pid = lb_players[k]
                t = dict(self.trade_t, id=str(uuid.UUID(int=rng.getrandbits(128))), gameId=gid, playerId=pid,
                         price=price, tickIndex=tick, type=rng.choice(("buy", "sell")), qty=qty, username=pid[-6:])
                trace = f'{{"__trace":true,"traceparent":"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"}}'
                yield ts, "standard/newTrade", f'["standard/newTrade",{trace},{json.dumps(t, separators=(",", ":"))}]', gid, pid, pid[-6:]
            body = (f'{{"gameId":"{gid}","tickCount":{tick},"price":{price!r},"active":true,"rugged":{"true" if rugged else "false"},'
                    f'"cooldownTimer":0,"allowPreRoundBuys":false,"tradeCount":{trades},"connectedPlayers":{200 + n % 50},'
                    f'"leaderboard":[{",".join(lb)}],{self.play_static}}}')
            yield ts, "gameStateUpdate", f'["gameStateUpdate",{body}]', gid, None, None
            if rugged and history_payload is not None:  # the last old-game broadcast carries gameHistory too
                body = body[:-1] + f',"gameHistory":[{history_payload}]}}'
                yield ts + 50_000, "gameStateUpdate", f'["gameStateUpdate",{body}]', gid, None, None
            if rng.random() < 0.01:  # duplicated delivery (a second client on the feed)
                yield ts + 1, "gameStateUpdate", f'["gameStateUpdate",{body}]', gid, None, None
            if rng.random() < 0.03:
                chat = f'{{"message":"gm {tick}","timestamp":{ts // 1000},{self.chat_static}}}'
                yield ts, "newChatMessage", f'["newChatMessage",{{"__trace":true}},{chat}]', None, None, None
            ts += 250_000
        self.recent = [self.history_entry(gid, prices, ts // 1000)] + self.recent[:9]
        return


def generate(paths: DataPaths, scale: float) -> dict:
    gen = Generator(load_templates())
    session = str(uuid.uuid4())
    day_start = int(datetime.fromisoformat(DAY).replace(tzinfo=UTC).timestamp() * 1e6)
    games = max(2, int(GAMES_PER_DAY * scale))
    spacing = int(86_400e6 / games) if scale >= 1 else int(86_400e6 * scale / games)
    cols: dict[str, list] = {n: [] for n in ("ts", "event_name", "raw_json", "game_id", "player_id", "username")}
    seq, rows, raw_bytes, files = 0, 0, 0, 0

    def flush() -> None:
        nonlocal seq, files
        n = len(cols["ts"])
        if not n:
            return
        table = pa.table({
            "ts": pa.array(cols["ts"], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "source": pa.array(["public_ws"] * n), "doc_type": pa.array(["ws_event"] * n),
            "session_id": pa.array([session] * n), "game_id": pa.array(cols["game_id"], pa.string()),
            "player_id": pa.array(cols["player_id"], pa.string()), "username": pa.array(cols["username"], pa.string()),
            "seq": pa.array(range(seq, seq + n), pa.int64()), "direction": pa.array(["received"] * n),
            "raw_json": pa.array(cols["raw_json"], pa.string()), "event_name": pa.array(cols["event_name"]),
            "origin_file": pa.nulls(n, pa.string()), "origin_line": pa.nulls(n, pa.int64()),
            "namespace": pa.nulls(n, pa.string()), "ack_id": pa.nulls(n, pa.int64()),
            "socket_id": pa.nulls(n, pa.string()),
        }, schema=WS_EVENT_SCHEMA)
        write_partition_file(paths, "ws_event", DAY, f"{session}_{seq:012d}-{seq + n - 1:012d}.parquet", table)
        seq += n
        files += 1
        for v in cols.values():
            v.clear()

    for g in range(games):
        for ts, name, raw, gid, pid, user in gen.game(g, day_start + g * spacing):
            cols["ts"].append(min(ts, day_start + 86_400_000_000 - 1))
            cols["event_name"].append(name)
            cols["raw_json"].append(raw)
            cols["game_id"].append(gid)
            cols["player_id"].append(pid)
            cols["username"].append(user)
            rows += 1
            raw_bytes += len(raw)
            if len(cols["ts"]) >= CHUNK:
                flush()
    flush()
    return {"games": games, "rows": rows, "raw_json_bytes": raw_bytes, "files": files}


def child(mode: str, data_dir: str) -> None:
    """Runs in a fresh process so its peak RSS is its own."""
    from vectra_pipeline.derive.common import raw_scan
    from vectra_pipeline.duck import connect

    paths = DataPaths(Path(data_dir))
    started = time.perf_counter()
    if mode == "derive":
        from vectra_pipeline.derive.run import derive_date

        results = {r.table: r.metadata() for r in derive_date(paths, DAY)}
    else:  # the floor: one pass extracting the same fields, nothing written
        con = connect()
        tick = ", ".join(f"'$[#-1].{k}'" for k in ("gameId", "tickCount", "price", "active", "rugged", "cooldownTimer",
                                                    "allowPreRoundBuys", "tradeCount", "connectedPlayers", "id",
                                                    "playerId", "type", "tickIndex", "amount", "qty"))
        results = dict(zip(("rows", "raw_json_bytes", "values", "leaderboard_entries", "history_ids"), con.execute(f"""
            SELECT count(*), sum(len(raw_json)), sum(len(v)), sum(len(lb)), sum(len(h)) FROM (
              SELECT raw_json, json_extract_string(raw_json, [{tick}]) v,
                     json_extract(raw_json, '$[#-1].leaderboard[*]') lb,
                     json_extract_string(raw_json, '$[#-1].gameHistory[*].id') h
              FROM {raw_scan(paths, DAY)})""").fetchall()[0], strict=True))
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                      "peak_rss_mb": usage.ru_maxrss / 1024, "results": results}, default=str))


def run_child(mode: str, data_dir: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--data-dir", str(data_dir)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(results: list[dict]) -> dict:
    """The run with the median wall seconds (its CPU seconds, RSS and counts with it)."""
    return sorted(results, key=lambda r: r["seconds"])[len(results) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of a day's games (1.0 = 1,400 games)")
    ap.add_argument("--data-dir", help="reuse/keep raw data here (default: a temp folder)")
    ap.add_argument("--repeat", type=int, default=1, help="floor/derive pairs, interleaved; medians reported")
    ap.add_argument("--child", choices=["derive", "floor"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.data_dir)
        return
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="vectra_bench_derive_"))
    paths = DataPaths(data_dir)
    t0 = time.perf_counter()
    if not any(paths.partition_dir("ws_event", DAY).glob("*.parquet")):
        gen = generate(paths, args.scale)
    else:
        gen = {"reused": str(data_dir)}
    gen_s = time.perf_counter() - t0
    parquet_mb = sum(f.stat().st_size for f in paths.partition_dir("ws_event", DAY).glob("*.parquet")) / 1e6
    # floor and derive interleaved, medians: on a loaded machine one pair says little
    runs = [(run_child("floor", data_dir), run_child("derive", data_dir)) for _ in range(args.repeat)]
    floor = _median([f for f, _ in runs])
    derive = _median([d for _, d in runs])
    json_mb = floor["results"]["raw_json_bytes"] / 1e6
    report = {
        "scale": args.scale if "reused" not in gen else "reused", "rows": floor["results"]["rows"], "cpus": os.cpu_count(), "generated": gen, "generate_seconds": round(gen_s, 1),
        "raw_json_mb": round(json_mb, 1), "raw_parquet_mb": round(parquet_mb, 1),
        "floor_seconds": round(floor["seconds"], 2), "floor_json_mb_per_s": round(json_mb / floor["seconds"], 1),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
        "derive_seconds": round(derive["seconds"], 2), "derive_json_mb_per_s": round(json_mb / derive["seconds"], 1),
        "derive_peak_rss_mb": round(derive["peak_rss_mb"]),
        "ratio_derive_over_floor": round(derive["seconds"] / floor["seconds"], 2),
        "ratios_per_run": [round(d["seconds"] / f["seconds"], 2) for f, d in runs],
        # CPU seconds (user + sys): less disturbed by other work on the machine than wall seconds
        "floor_cpu_seconds": round(floor["cpu_seconds"], 2), "derive_cpu_seconds": round(derive["cpu_seconds"], 2),
        "cpu_ratio_derive_over_floor": round(derive["cpu_seconds"] / floor["cpu_seconds"], 2),
        "tables": derive["results"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
