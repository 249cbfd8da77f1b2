"""Benchmark: a range backfill of N synthetic days (`typed_backfill`, one step per date) on the local
cluster (PostgreSQL instance, Dask executor) with 1 vs 2 Dask workers, in the same run.

The days are generated like bench/derive.py's (real fixture payloads, varied ids and prices), at a
small scale. Both workers stay up and warm (one warm-up run first); a "1 worker" round pauses the
second (a paused Dask worker gets no new tasks). Rounds alternate 2, 1, 2, 1, ...; the report gives the
median seconds of each and the speedup (1-worker seconds / 2-worker seconds). The speedup is bounded
by the cores, not the workers: a date's derive already runs DuckDB on every core of its machine, so on
one 2-core machine two workers can at best overlap the steps' single-threaded parts (parsing, Dagster's
own work), and ~1.0 says the distribution costs nothing; workers on separate machines add their cores.

    .venv/bin/python bench/scale.py                 # 6 days at scale 0.03, 3 rounds each
    .venv/bin/python bench/scale.py --days 10 --scale 0.05 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import derive as derive_bench  # noqa: E402
from cluster_helpers import LocalCluster, backfill_config, start_local_cluster, typed_backfill_job  # noqa: E402
from distributed import Client  # noqa: E402
from distributed.core import Status  # noqa: E402

from vectra_capture.store.layout import DataPaths  # noqa: E402
from vectra_pipeline.derive.common import shift  # noqa: E402

FIRST_DAY = "2026-01-10"


def generate_days(paths: DataPaths, days: int, scale: float) -> dict:
    rows = 0
    for n in range(days):
        derive_bench.DAY = shift(FIRST_DAY, n)  # bench/derive.py generates its module's DAY
        rows += derive_bench.generate(paths, scale)["rows"]
    return {"days": days, "raw_rows": rows}


def set_status(status: str, dask_worker=None) -> None:  # noqa: ANN001 - Dask passes its worker in
    dask_worker.status = Status[status]


def backfill_seconds(cluster: LocalCluster, data_dir: Path, last_day: str) -> float:
    with cluster.instance() as instance:
        started = time.perf_counter()
        result = dg.execute_job(typed_backfill_job(), instance,
                                run_config=backfill_config(data_dir, FIRST_DAY, last_day))
        seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"backfill run {result.run_id} failed")
    return seconds


def storage_comparison(scale: float, rounds: int) -> dict:
    """Object storage vs the local folder in the same run: derive one synthetic date and query it on
    an s3:// data root (a moto server on 127.0.0.1) and on a folder (bench/scale_storage.py)."""
    import scale_storage  # noqa: PLC0415 - the other half of this benchmark, a sibling script

    return scale_storage.measure_storage(scale=scale, rounds=rounds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=6)
    ap.add_argument("--scale", type=float, default=0.03, help="fraction of a real day's games per day")
    ap.add_argument("--rounds", type=int, default=3, help="measured runs per worker count")
    args = ap.parse_args()
    last_day = shift(FIRST_DAY, args.days - 1)
    with start_local_cluster(workers=2) as cluster:
        paths = DataPaths(cluster.settings.state_dir / "bench_data")
        generated = generate_days(paths, args.days, args.scale)
        with Client(cluster.settings.scheduler_address, set_as_default=False) as client:
            workers = sorted(client.scheduler_info()["workers"])
            backfill_seconds(cluster, paths.root, last_day)  # warm-up: both workers import the code location
            times: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.rounds):
                for n in (2, 1):
                    client.run(set_status, "paused" if n == 1 else "running", workers=workers[1:])
                    times[n].append(backfill_seconds(cluster, paths.root, last_day))
            client.run(set_status, "running", workers=workers[1:])
        one, two = statistics.median(times[1]), statistics.median(times[2])
        report = {
            "bench": "scale", "cpus": os.cpu_count(), "scale": args.scale, **generated,
            "steps_per_run": 2 * args.days + 2, "rounds": args.rounds,
            "seconds_1_worker": [round(t, 2) for t in times[1]], "seconds_2_workers": [round(t, 2) for t in times[2]],
            "median_seconds_1_worker": round(one, 2), "median_seconds_2_workers": round(two, 2),
            "speedup_2_over_1": round(one / two, 2),
            "note": "DuckDB uses every core within one step: on one machine the ceiling is its core count",
            "storage": storage_comparison(args.scale, args.rounds),
        }
    print(json.dumps(report, indent=2, default=str))  # the storage part holds DuckDB decimals


if __name__ == "__main__":
    main()
