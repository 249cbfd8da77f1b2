"""Benchmark: one typed partition run in Dagster on the fixture day (the real samples landed as raw
ws_event), wall time against the compute of its steps, for the code location as it is (in-process
executor) and, as the baseline in the same run, the same definitions with Dagster's multiprocess
executor (one Python per step re-importing the code location: what runs did before).

Each run is a fresh `dagster asset materialize` process (like the run worker the daemon launches),
on its own DAGSTER_HOME whose instance (SQLite storage) is created before the clock starts, as a
deployed instance already exists. Wall and CPU seconds (user + system, step processes included) are
measured around that process; steps, their durations, the run's own duration and the derive seconds
come from the run's event log. The wall splits into the process start (imports, code location load,
instance; `wall - run`) and the run itself, whose steps' compute is `step_compute_seconds`.
On a shared machine, CPU seconds are the steadier figure; `--rounds N` interleaves the modes N times
and reports medians.

    .venv/bin/python bench/dagster_run.py [--rounds N] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from vectra_pipeline.definitions import code_location  # noqa: E402

TYPED = "game_tick,player_action,server_state,complete_game,games"


@dg.definitions
def multiprocess_defs() -> dg.Definitions:
    """The baseline: the same code location with the multiprocess executor."""
    return code_location(dg.multiprocess_executor)


def land_fixture_day(data_dir: Path) -> str:
    """The real samples and auth examples as raw ws_event; returns the date with the most rows."""
    from pipeline_helpers import fixture_records, land

    from vectra_capture.store.layout import DataPaths

    records = fixture_records("bench")
    land(DataPaths(data_dir), records, "bench")
    per_date = Counter(time.strftime("%Y-%m-%d", time.gmtime(r.ts_us / 1e6)) for r in records)
    return per_date.most_common(1)[0][0]


def run_report(home: Path) -> dict:
    """Steps, their summed compute, the run's own duration and the derive seconds, from the event log."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs(limit=1)
        stats = instance.get_run_stats(run.run_id)
        per_step: dict[str, float] = {}
        derive_s = 0.0
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_SUCCESS":
                per_step[event.step_key] = round(event.event_specific_data.duration_ms / 1000, 2)
            elif event.event_type_value == "ASSET_MATERIALIZATION":
                seconds = event.event_specific_data.materialization.metadata.get("seconds")
                derive_s += seconds.value if seconds is not None else 0.0
        return {"status": run.status.value, "steps": len(per_step),
                "step_compute_seconds": round(sum(per_step.values()), 2), "derive_seconds": round(derive_s, 2),
                "run_seconds": round((stats.end_time or 0) - (stats.start_time or 0), 2), "per_step": per_step}


def prepared_home(workdir: Path, name: str) -> Path:
    """A DAGSTER_HOME with the project's dagster.yaml and its storage created (untimed)."""
    home = workdir / f"home_{name}"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)
    return home


def materialize(mode: str, data_dir: Path, date: str, workdir: Path, round_no: int = 0) -> dict:
    home = prepared_home(workdir, f"{mode}_{round_no}")
    target = (["-f", str(Path(__file__).resolve()), "-a", "multiprocess_defs"] if mode == "multiprocess"
              else ["-m", "vectra_pipeline.definitions"])
    env = {**os.environ, "DAGSTER_HOME": str(home), "RUGS_DATA_DIR": str(data_dir),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started, cpu_before = time.perf_counter(), _children_cpu()
    out = subprocess.run([sys.executable, "-m", "dagster", "asset", "materialize", *target, "--select", TYPED,
                          "--partition", date], cwd=ROOT, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-3000:]}")
    report = run_report(home)
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "outside_run_seconds": round(wall - report["run_seconds"], 2), **report}


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time, with the medians of the numeric figures over all runs."""
    runs = sorted(runs, key=lambda r: r["wall_seconds"])
    out = dict(runs[len(runs) // 2])
    for key in ("wall_seconds", "cpu_seconds", "outside_run_seconds", "step_compute_seconds", "derive_seconds",
                "run_seconds"):
        out[key] = round(statistics.median(r[key] for r in runs), 2)
    out["rounds"] = len(runs)
    return out


def _children_cpu() -> float:
    """User + system CPU of finished child processes (and the step processes they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved runs of each mode (medians)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the multiprocess baseline (slow)")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vectra_bench_dagster_"))
    try:
        data_dir = workdir / "data"
        date = land_fixture_day(data_dir)
        base_runs, runs = [], []
        for i in range(args.rounds):
            if not args.no_baseline:
                base_runs.append(materialize("multiprocess", data_dir, date, workdir, i))
            runs.append(materialize("in_process", data_dir, date, workdir, i))
        current = median_run(runs)
        report = {
            "partition": date, "cpus": os.cpu_count(), "in_process": current,
            "in_process_wall_over_step_compute": round(current["wall_seconds"] / max(current["step_compute_seconds"],
                                                                                     0.01), 1),
        }
        if base_runs:
            baseline = median_run(base_runs)
            report["baseline_multiprocess"] = baseline
            report["ratio_wall_in_process_over_multiprocess"] = round(current["wall_seconds"]
                                                                      / baseline["wall_seconds"], 2)
            report["ratio_cpu_in_process_over_multiprocess"] = round(current["cpu_seconds"]
                                                                     / baseline["cpu_seconds"], 2)
        print(json.dumps(report, indent=2))
        print()
        print("| mode | steps | wall s | CPU s | run s | outside the run s | step compute s | derive s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, r in (("multiprocess (baseline)", report.get("baseline_multiprocess")), ("in-process", current)):
            if r:
                print(f"| {name} | {r['steps']} | {r['wall_seconds']} | {r['cpu_seconds']} | {r['run_seconds']} | "
                      f"{r['outside_run_seconds']} | {r['step_compute_seconds']} | {r['derive_seconds']} |")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
