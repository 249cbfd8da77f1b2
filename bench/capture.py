"""Capture benchmark: the daemon next to a bare python-socketio client, in the same run.

1. Throughput at --speed 0: the same recording replayed twice by a local feed, once to a bare
   client that only counts (events/s over its receipt span), once to `vectra capture` (events/s
   from the first receipt until the status file says all are fsynced); the ratio daemon / bare
   (target >= 0.7). Every event is checked to be in Parquet after SIGTERM.
2. Cost at the real rate (~5-6 events/s, the fixture samples at speed 1): the daemon's CPU as a
   percentage of one core and its peak RSS (target < 2% of a core).

    .venv/bin/python bench/capture.py [--repeat 50] [--real-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "raw" / "websocket_raw_samples.jsonl"
VECTRA = [sys.executable, "-m", "vectra_pipeline.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def start_feed(port: int, speed: float, repeat: int | None, workdir: Path) -> subprocess.Popen:
    args = [*VECTRA, "feed", "serve", "--port", str(port), "--speed", str(speed), "--json", str(SAMPLES)]
    args += ["--repeat", str(repeat)] if repeat else ["--loop"]
    proc = subprocess.Popen(args, stdout=open(workdir / "feed.out", "w"), stderr=subprocess.DEVNULL)  # noqa: SIM115
    wait_port(port)
    return proc


async def bare_client(url: str, expected: int) -> dict:
    import socketio

    client = socketio.AsyncClient()
    times: list[float] = []
    done = asyncio.Event()

    @client.on("*")
    async def any_event(event, *args):
        times.append(time.perf_counter())
        if len(times) >= expected:
            done.set()

    await client.connect(url, transports=["websocket"])
    await asyncio.wait_for(done.wait(), 600)
    await client.disconnect()
    span = times[-1] - times[0]
    return {"events": len(times), "seconds": span, "events_per_s": (len(times) - 1) / span}


def bench_bare(repeat: int, workdir: Path) -> dict:
    port = free_port()
    feed = start_feed(port, 0, repeat, workdir)
    expected = 200 * repeat
    result = asyncio.run(bare_client(f"http://127.0.0.1:{port}", expected))
    feed.wait(60)
    return result


def bench_daemon(repeat: int, workdir: Path) -> dict:
    """Events/s until durable: from the first event's receipt to the moment the daemon's status
    says every emitted event is fsynced (`written`), not just received."""
    port = free_port()
    data = workdir / "daemon_data"
    status_file = data / "run" / "capture-status.json"
    expected = 200 * repeat
    feed = start_feed(port, 0, repeat, workdir)
    daemon = subprocess.Popen([*VECTRA, "capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data),
                               "--flush-interval", "1.0"], stderr=subprocess.DEVNULL)
    written_at = None
    deadline = time.monotonic() + 600
    while written_at is None and time.monotonic() < deadline:
        try:
            if json.loads(status_file.read_text()).get("written", 0) >= expected:
                written_at = time.time()
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.01)
    feed.wait(600)
    emitted = json.loads((workdir / "feed.out").read_text())["emitted"]
    stop_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(120)
    stop_seconds = time.monotonic() - stop_at
    con = duckdb.connect()
    n, first = con.execute(
        f"select count(*), min(epoch_us(ts)) from read_parquet('{data}/events_parquet/doc_type=ws_event/*/*.parquet')"
    ).fetchone()
    span = written_at - first / 1e6
    return {"events": n, "emitted": emitted, "all_landed": n == emitted, "seconds_to_durable": round(span, 3),
            "events_per_s": (n - 1) / span, "sigterm_to_parquet_seconds": round(stop_seconds, 2)}


def bench_real_rate(seconds: float, workdir: Path) -> dict:
    port = free_port()
    data = workdir / "real_rate_data"
    feed = start_feed(port, 1, None, workdir)
    daemon = subprocess.Popen([*VECTRA, "capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)],
                              stderr=subprocess.DEVNULL)
    proc = psutil.Process(daemon.pid)
    time.sleep(8)  # imports and connection: not the steady state
    cpu0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    status0 = json.loads((data / "run" / "capture-status.json").read_text())["received"]
    time.sleep(seconds)
    cpu1, t1 = sum(proc.cpu_times()[:2]), time.monotonic()
    status1 = json.loads((data / "run" / "capture-status.json").read_text())["received"]
    hwm_kb = int(next(line for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
                      if line.startswith("VmHWM")).split()[1])
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(60)
    feed.send_signal(signal.SIGTERM)
    feed.wait(60)
    wall = t1 - t0
    return {"seconds": round(wall, 1), "events_per_s": round((status1 - status0) / wall, 2),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 2), "peak_rss_mb": round(hwm_kb / 1024, 1)}


def bench_arguments(doc: str, repeat: int, unit: str) -> argparse.Namespace:
    """The capture benches' options: --repeat (of the 200-<unit> sample at speed 0), --real-seconds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=repeat, help=f"repetitions of the 200-{unit} sample at speed 0")
    parser.add_argument("--real-seconds", type=float, default=60.0, help="measurement window at the real rate")
    return parser.parse_args()


def machine() -> dict:
    return {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}


Measure = Callable[[Any, Path], dict]


def measure(args: argparse.Namespace, baseline: Measure, candidate: Measure, real_rate: Measure) -> tuple[dict, ...]:
    """A capture bench's three measurements in one throwaway folder, in the same run: the baseline's
    and the candidate's throughput (--repeat), then the candidate's cost at the real rate (--real-seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        return (baseline(args.repeat, workdir), candidate(args.repeat, workdir),
                real_rate(args.real_seconds, workdir))


def main() -> None:
    args = bench_arguments(__doc__, 50, "event")
    bare, daemon, real = measure(args, bench_bare, bench_daemon, bench_real_rate)
    result = {
        "machine": machine(),
        "throughput": {"bare_client": bare, "daemon": daemon,
                       "ratio_daemon_vs_bare": round(daemon["events_per_s"] / bare["events_per_s"], 3)},
        "real_rate": real,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
