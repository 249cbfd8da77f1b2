"""Browser capture benchmark: frames landed through CDP next to the socket capture, in the same run.

1. Throughput at --speed 0: the same recording replayed by a local feed, once to `vectra capture --url`
   (the socket client), once to the feed's client page in headless Chromium recorded by
   `vectra capture --cdp`; frames/s from the first frame's timestamp until the status file says all
   are fsynced, and the ratio cdp / socket. Every frame is checked to be in Parquet after SIGTERM.
2. Cost at the real rate (~5-6 frames/s, the fixture samples at speed 1, looped, into the page): the
   CDP capture daemon's CPU as a percentage of one core and its peak RSS (target < 2% of a core);
   Chromium's own CPU is reported beside it (it is the player's browser, running anyway).

    .venv/bin/python bench/cdp.py [--repeat 20] [--real-seconds 60]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import duckdb
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from capture import SAMPLES, VECTRA, bench_arguments, free_port, machine, measure, start_feed  # noqa: E402  (the socket bench's helpers)

CHROMIUM_FLAGS = ["--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start_chromium(workdir: Path) -> tuple[subprocess.Popen, int]:
    binary = shutil.which("chromium") or shutil.which("google-chrome")
    if not binary:
        raise SystemExit("chromium is not installed: apt-get install -y chromium")
    port = free_port()
    args = [binary, *CHROMIUM_FLAGS, f"--remote-debugging-port={port}",
            f"--user-data-dir={workdir / f'profile-{port}'}", "about:blank"]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=1).read()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("chromium did not serve CDP")


def open_tab(cdp_port: int, url: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{cdp_port}/json/new?{urllib.parse.quote(url, safe='')}",
                                 method="PUT")
    urllib.request.urlopen(req, timeout=10).read()


def read_status(data: Path) -> dict:
    try:
        return json.loads((data / "run" / "capture-status.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def wait_status(data: Path, predicate, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(read_status(data)):
            return time.time()
        time.sleep(0.01)
    raise RuntimeError(f"timed out waiting on {data}: {read_status(data)}")


def capture_tab(cdp_port: int, data: Path, url: str) -> subprocess.Popen:
    """`vectra capture --cdp` attached to the browser, then a tab on `url` (so its socket is seen from the start)."""
    daemon = subprocess.Popen([*VECTRA, "capture", "--cdp", f"http://127.0.0.1:{cdp_port}", "--data-dir", str(data)],
                              stderr=subprocess.DEVNULL)
    wait_status(data, lambda st: st.get("browser") == "attached", 60)
    open_tab(cdp_port, url)
    return daemon


def landed(data: Path) -> tuple[int, float]:
    """(received ws_event rows other than acks, first ts in seconds)."""
    n, first = duckdb.connect().execute(
        f"select count(*), min(epoch_us(ts)) from read_parquet('{data}/events_parquet/doc_type=ws_event/*/*.parquet') "
        "where direction = 'received' and event_name <> '__ack__'").fetchone()
    return n, first / 1e6


def bench_socket(repeat: int, workdir: Path) -> dict:
    port, data, expected = free_port(), workdir / "socket_data", 200 * repeat
    feed = start_feed(port, 0, repeat, workdir)
    daemon = subprocess.Popen([*VECTRA, "capture", "--url", f"http://127.0.0.1:{port}", "--data-dir", str(data)],
                              stderr=subprocess.DEVNULL)
    durable_at = wait_status(data, lambda st: st.get("written", 0) >= expected)
    feed.wait(600)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(120)
    n, first = landed(data)
    return {"frames": n, "all_landed": n == expected, "seconds_to_durable": round(durable_at - first, 3),
            "frames_per_s": round((n - 1) / (durable_at - first), 1)}


def bench_cdp(repeat: int, workdir: Path) -> dict:
    browser, cdp_port = start_chromium(workdir)
    port, data, expected = free_port(), workdir / "cdp_data", 200 * repeat
    feed = start_feed(port, 0, repeat, workdir)
    try:
        daemon = capture_tab(cdp_port, data, f"http://127.0.0.1:{port}/?ping=3600")
        # the page's first application ping and its ack land too
        durable_at = wait_status(data, lambda st: st.get("written", 0) >= expected + 2)
        feed.wait(600)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(120)
    finally:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait(30)
    n, first = landed(data)
    return {"frames": n, "all_landed": n == expected, "seconds_to_durable": round(durable_at - first, 3),
            "frames_per_s": round((n - 1) / (durable_at - first), 1)}


def _cpu(proc: psutil.Process, tree: bool = False) -> float:
    procs = [proc, *proc.children(recursive=True)] if tree else [proc]
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):  # a renderer may exit meanwhile
            total += sum(p.cpu_times()[:2])
    return total


def bench_real_rate(seconds: float, workdir: Path) -> dict:
    browser, cdp_port = start_chromium(workdir)
    port, data = free_port(), workdir / "real_rate_data"
    feed = start_feed(port, 1, None, workdir)
    try:
        daemon = capture_tab(cdp_port, data, f"http://127.0.0.1:{port}/")
        time.sleep(8)  # imports, page load, first frames: not the steady state
        proc, chrome = psutil.Process(daemon.pid), psutil.Process(browser.pid)
        cpu0, chrome0, t0 = _cpu(proc), _cpu(chrome, tree=True), time.monotonic()
        n0 = read_status(data)["received"]
        time.sleep(seconds)
        cpu1, chrome1, t1 = _cpu(proc), _cpu(chrome, tree=True), time.monotonic()
        n1 = read_status(data)["received"]
        hwm_kb = int(next(line for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines()
                          if line.startswith("VmHWM")).split()[1])
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(60)
    finally:
        feed.send_signal(signal.SIGTERM)
        feed.wait(60)
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait(30)
    wall = t1 - t0
    return {"seconds": round(wall, 1), "frames_per_s": round((n1 - n0) / wall, 2),
            "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / wall, 2), "peak_rss_mb": round(hwm_kb / 1024, 1),
            "chromium_cpu_percent_of_one_core": round(100 * (chrome1 - chrome0) / wall, 2)}


def main() -> None:
    args = bench_arguments(__doc__, 20, "frame")
    socket_result, cdp_result, real = measure(args, bench_socket, bench_cdp, bench_real_rate)
    print(json.dumps({
        "machine": machine(),
        "recording": SAMPLES.name,
        "throughput": {"socket_capture": socket_result, "cdp_capture": cdp_result,
                       "ratio_cdp_vs_socket": round(cdp_result["frames_per_s"] / socket_result["frames_per_s"], 3)},
        "real_rate_cdp": real,
    }, indent=2))


if __name__ == "__main__":
    main()
