"""Capture benchmark: the feed, a bare python-socketio client and the capture daemon, interleaved in one run.

1. Throughput, --rounds rounds. In each round a local feed loops the real mixed samples at --speed 0
   to one consumer at a time (the order rotates per round), and each consumer's count is taken over
   the same kind of window: --warmup seconds after its first frame are skipped, then --window seconds
   are counted.
   - feed: a raw websocket reader that does the Engine.IO handshake and only counts messages: the
     feed's own frames/s (it must beat the bare client, or the bench measures the feed);
   - bare: a bare python-socketio AsyncClient with a catch-all handler: messages decoded per second
     (the baseline);
   - daemon: `vectra capture`; after SIGTERM its Parquet is read back and the rows whose receipt ts
     falls in the window are counted (durable rows per second). Every row is checked against the
     recording: the rows, by seq, are a contiguous cyclic run of the recording's frames, byte for byte.
   Medians over the rounds; the ratios are medians of each round's ratio: daemon / bare (target
   >= 0.9) and feed / bare (must be > 1).
2. Cost at the real rate (~5-6 events/s, the fixture samples at speed 1): the daemon's CPU as a
   percentage of one core and its peak RSS (target < 2% of a core).

    .venv/bin/python bench/capture.py [--rounds 5] [--warmup 2] [--window 5] [--real-seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import duckdb
import psutil
import socketio

from vectra_capture.replay.sources import load_recordings
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.spool import list_segments

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "raw" / "websocket_raw_samples.jsonl"
VECTRA = [sys.executable, "-m", "vectra_pipeline.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(600):
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


def stop(proc: subprocess.Popen, timeout: float = 120) -> float:
    """SIGTERM and wait; the seconds it took to exit."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout)
    return time.monotonic() - started


def window_rate(times: list[float], warmup: float, window: float) -> float:
    """Frames per second in [first + warmup, first + warmup + window)."""
    start = times[0] + warmup
    return sum(1 for t in times if start <= t < start + window) / window


# -- the consumers ----------------------------------------------------------------------------------
async def raw_reader(url: str, seconds: float) -> list[float]:
    """Receipt times of the event messages a websocket reader that decodes nothing got."""
    times: list[float] = []
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        deadline = None
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = msg.data
            if data.startswith("42"):
                now = time.monotonic()
                times.append(now)
                deadline = deadline or now + seconds
                if now >= deadline:
                    break
            elif data.startswith("0"):
                await ws.send_str("40")
            elif data == "2":
                await ws.send_str("3")
    return times


async def bare_client(url: str, seconds: float) -> list[float]:
    """Receipt times of the events a bare python-socketio client decoded and dispatched."""
    client = socketio.AsyncClient()
    times: list[float] = []
    done = asyncio.Event()

    @client.on("*")
    async def any_event(event, *args):
        now = time.monotonic()
        times.append(now)
        if now - times[0] >= seconds:
            done.set()

    await client.connect(url, transports=["websocket"])
    await asyncio.wait_for(done.wait(), 600)
    await client.disconnect()
    return times


def client_round(consumer: Callable[[str, float], Any], warmup: float, window: float, workdir: Path) -> float:
    port = free_port()
    feed = start_feed(port, 0, None, workdir)
    try:
        times = asyncio.run(consumer(f"http://127.0.0.1:{port}", warmup + window + 0.2))
    finally:
        stop(feed)
    return window_rate(times, warmup, window)


def recording_digests() -> list[str]:
    """md5 of each recorded frame's JSON array as the wire carries it (what the daemon stores as raw_json)."""
    events = load_recordings([SAMPLES]).events
    return [hashlib.md5(json.dumps([ev.event_name, *ev.args], separators=(",", ":")).encode()).hexdigest()
            for ev in events]


def is_cyclic_run(digests: list[str], cycle: list[str]) -> bool:
    """True if `digests` is cycle[k], cycle[k+1], ... (wrapping) for some start k."""
    n = len(cycle)
    return any(all(d == cycle[(k + i) % n] for i, d in enumerate(digests))
               for k in range(n) if digests and cycle[k] == digests[0])


def daemon_round(warmup: float, window: float, workdir: Path, cycle: list[str], number: int) -> dict:
    """Durable rows per second: rows read back from the daemon's Parquet after SIGTERM, by receipt ts."""
    port, data = free_port(), workdir / f"daemon-{number}"
    feed = start_feed(port, 0, None, workdir)
    daemon = subprocess.Popen([*VECTRA, "capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)],
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not any(p.stat().st_size for p in list_segments(DataPaths(data).spool)):  # the first rows are in
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("the capture daemon wrote nothing")
            time.sleep(0.02)
        time.sleep(warmup + window + 0.5)
        stop_seconds = stop(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
        stop(feed)
    rows = duckdb.connect().execute(
        f"select epoch_us(ts), md5(raw_json) from read_parquet('{DataPaths(data).glob('ws_event')}') "
        "where direction = 'received' order by seq").fetchall()
    times = [ts / 1e6 for ts, _ in rows]
    return {"rate": window_rate(times, warmup, window), "rows": len(rows),
            "contiguous": is_cyclic_run([digest for _, digest in rows], cycle),
            "sigterm_to_parquet_seconds": stop_seconds}


def bench_throughput(rounds: int, warmup: float, window: float, workdir: Path) -> dict:
    cycle = recording_digests()
    runs: dict[str, list] = {"feed": [], "bare": [], "daemon": []}
    measures: dict[str, Callable[[int], Any]] = {
        "feed": lambda _n: client_round(raw_reader, warmup, window, workdir),
        "bare": lambda _n: client_round(bare_client, warmup, window, workdir),
        "daemon": lambda n: daemon_round(warmup, window, workdir, cycle, n),
    }
    order = list(measures)
    for n in range(rounds):
        for name in order[n % 3:] + order[: n % 3]:  # rotate, so no consumer always runs first
            runs[name].append(measures[name](n))
    daemon_rates = [d["rate"] for d in runs["daemon"]]
    ratio_daemon = [d / b for d, b in zip(daemon_rates, runs["bare"], strict=True)]
    ratio_feed = [f / b for f, b in zip(runs["feed"], runs["bare"], strict=True)]
    return {
        "rounds": rounds, "warmup_seconds": warmup, "window_seconds": window,
        "feed_frames_per_s": round(statistics.median(runs["feed"])),
        "bare_client_decoded_per_s": round(statistics.median(runs["bare"])),
        "daemon_durable_rows_per_s": round(statistics.median(daemon_rates)),
        "ratio_daemon_vs_bare": round(statistics.median(ratio_daemon), 3),
        "ratio_feed_vs_bare": round(statistics.median(ratio_feed), 2),
        "feed_faster_than_bare_client": min(ratio_feed) > 1,
        "daemon_rows_contiguous_and_verbatim": all(d["contiguous"] for d in runs["daemon"]),
        "daemon_sigterm_to_parquet_seconds": round(statistics.median(d["sigterm_to_parquet_seconds"]
                                                                     for d in runs["daemon"]), 2),
        "per_round": {"feed": [round(r) for r in runs["feed"]], "bare": [round(r) for r in runs["bare"]],
                      "daemon": [round(r) for r in daemon_rates],
                      "ratio_daemon_vs_bare": [round(r, 3) for r in ratio_daemon]},
    }


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
    stop(daemon, 60)
    stop(feed, 60)
    wall = t1 - t0
    return {"seconds": round(wall, 1), "events_per_s": round((status1 - status0) / wall, 2),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 2), "peak_rss_mb": round(hwm_kb / 1024, 1)}


# -- helpers the browser capture bench (cdp.py) shares -----------------------------------------------
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds skipped after a consumer's first frame")
    parser.add_argument("--window", type=float, default=5.0, help="seconds counted after the warm-up")
    parser.add_argument("--real-seconds", type=float, default=60.0, help="measurement window at the real rate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        throughput = bench_throughput(args.rounds, args.warmup, args.window, workdir)
        real = bench_real_rate(args.real_seconds, workdir) if args.real_seconds > 0 else None
    print(json.dumps({"machine": machine(), "recording": SAMPLES.name, "throughput": throughput, "real_rate": real},
                     indent=2))


if __name__ == "__main__":
    main()
