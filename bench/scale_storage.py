"""Benchmark: the cost of an object-storage data root vs a local folder, measured in one run.

One synthetic day of raw ws_event Parquet (bench/derive.py's generator, real payload shapes) is
landed in a local folder and, through the store, in an s3:// root on a local S3-compatible server
(moto's server mode, its own process, 127.0.0.1). Then, interleaved round by round: the day's typed
derivation (all tables) on each root, and one query over the typed tables (DuckDB over the same
files; on s3 through the registered s3fs filesystem). Reports medians and the ratios s3 / local;
seconds are context only (the machine is shared). The rows of both roots are checked equal.

    .venv/bin/python bench/scale_storage.py --scale 0.05 --rounds 3

`measure_storage(scale, rounds)` is importable (bench/scale.py reports it next to the backfill).
moto keeps objects in memory and speaks HTTP on loopback: the ratio is a floor of the protocol cost
(request per object, ranged reads, uploads), not of a real network.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import derive as derive_bench  # noqa: E402 - bench/derive.py: the synthetic day

from vectra_capture.store import write_partition_file  # noqa: E402
from vectra_capture.store.layout import DataPaths  # noqa: E402
from vectra_pipeline import duck  # noqa: E402
from vectra_pipeline.derive.run import derive_date  # noqa: E402

QUERY = """SELECT count(*) AS ticks, count(DISTINCT game_id) AS games, max(price) AS peak
           FROM read_parquet({glob}, hive_partitioning = true, union_by_name = true)"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, dict[str, str]]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_EC2_METADATA_DISABLED": "true"}
    return proc, env


def _timed(fn):  # noqa: ANN001, ANN202
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _query(paths: DataPaths) -> tuple:
    con = duck.connect()
    try:
        return con.execute(QUERY.format(glob=duck.quote(paths.glob("game_tick")))).fetchone()
    finally:
        con.close()


def measure_storage(scale: float = 0.05, rounds: int = 3, workdir: Path | None = None) -> dict:
    workdir = workdir or Path(tempfile.mkdtemp(prefix="vectra_bench_storage_"))
    proc, env = start_moto()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1").create_bucket(Bucket=bucket)
        local = DataPaths.resolve(workdir / "local")
        remote = DataPaths.resolve(f"s3://{bucket}/vectra", workdir / "s3-local")
        gen_s, generated = _timed(lambda: derive_bench.generate(local, scale))
        raw_files = sorted(local.partition_dir("ws_event", derive_bench.DAY).glob("*.parquet"))
        upload_s, _ = _timed(lambda: [write_partition_file(remote, "ws_event", derive_bench.DAY, f.name,
                                                           pq.read_table(f)) for f in raw_files])
        times: dict[str, list[float]] = {"derive_local": [], "derive_s3": [], "query_local": [], "query_s3": []}
        answers = {}
        for _ in range(rounds):  # interleaved, so a busy neighbour slows both alike
            for name, paths in (("local", local), ("s3", remote)):
                seconds, results = _timed(lambda p=paths: derive_date(p, derive_bench.DAY))
                times[f"derive_{name}"].append(seconds)
                rows = {r.table: r.rows_out for r in results}
                seconds, answer = _timed(lambda p=paths: _query(p))
                times[f"query_{name}"].append(seconds)
                answers[name] = (rows, answer)
        assert answers["local"] == answers["s3"], answers  # same inputs, same rows
        med = {k: statistics.median(v) for k, v in times.items()}
        return {
            "scale": scale, "rounds": rounds, "raw_rows": generated["rows"], "raw_files": len(raw_files),
            "raw_parquet_mb": round(sum(f.stat().st_size for f in raw_files) / 1e6, 1),
            "generate_seconds": round(gen_s, 1), "upload_raw_seconds": round(upload_s, 2),
            "median_seconds": {k: round(v, 3) for k, v in med.items()},
            "ratio_derive_s3_over_local": round(med["derive_s3"] / med["derive_local"], 2),
            "ratio_query_s3_over_local": round(med["query_s3"] / med["query_local"], 2),
            "typed_rows": answers["local"][0], "query_answer": list(answers["local"][1]),
        }
    finally:
        proc.terminate()
        proc.wait(10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.05, help="fraction of a day's games (1.0 = 1,400 games)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(json.dumps(measure_storage(args.scale, args.rounds), indent=2, default=str))


if __name__ == "__main__":
    main()
