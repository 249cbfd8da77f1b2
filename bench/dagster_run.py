"""Benchmark: one typed partition run in Dagster on the fixture day (the real samples landed as raw
ws_event), wall time against the compute of its steps, for the code location as it is (in-process
executor) and, as the baseline in the same run, the same definitions with Dagster's multiprocess
executor (one Python per step re-importing the code location: what runs did before).

Each run is a fresh `dagster asset materialize` process (like the run worker the daemon launches),
on its own temporary DAGSTER_HOME. Wall and CPU seconds (user + system, step processes included) are
measured around that process; steps, their durations, the run's own duration and the derive seconds
come from the run's event log. On a shared machine, CPU seconds are the steadier figure.

    .venv/bin/python bench/dagster_run.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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


def materialize(mode: str, data_dir: Path, date: str, workdir: Path) -> dict:
    home = workdir / f"home_{mode}"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
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
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), **run_report(home)}


def _children_cpu() -> float:
    """User + system CPU of finished child processes (and the step processes they waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vectra_bench_dagster_"))
    try:
        data_dir = workdir / "data"
        date = land_fixture_day(data_dir)
        baseline = materialize("multiprocess", data_dir, date, workdir)
        current = materialize("in_process", data_dir, date, workdir)
        report = {
            "partition": date, "cpus": os.cpu_count(),
            "baseline_multiprocess": baseline, "in_process": current,
            "ratio_wall_in_process_over_multiprocess": round(current["wall_seconds"] / baseline["wall_seconds"], 2),
            "ratio_cpu_in_process_over_multiprocess": round(current["cpu_seconds"] / baseline["cpu_seconds"], 2),
            "in_process_wall_over_step_compute": round(current["wall_seconds"] / max(current["step_compute_seconds"],
                                                                                     0.01), 1),
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
