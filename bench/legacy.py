"""Legacy import speed: the real import next to a plain json.loads + pyarrow write floor, same lines,
same run; then a synthetic user-sized set (~1,000 files) built by copying the fixtures under new names.

    .venv/bin/python bench/legacy.py [DIR] [--files N]

Floor and one-core import are interleaved (--repeat rounds after a warm-up; medians): the ratio is
CPU seconds of the import over CPU seconds of the floor, measured in the same run.
Prints one JSON object and a markdown table for the README. Targets: import within 1.5x of the floor
(CPU); ~1,000 files / ~75 MB in under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectra_capture.legacy.importer import import_legacy  # noqa: E402
from vectra_capture.store.layout import DataPaths  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "legacy" / "rugs_recordings"
WORKERS = 2  # the "import s" column: two worker processes (the 1-core column uses one)


def floor(files: list[Path], out: Path) -> dict:
    """Read every line, json.loads it, write the parsed lines' text per file with pyarrow (zstd)."""
    out.mkdir(parents=True, exist_ok=True)
    t, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for i, f in enumerate(files):
        texts, lines = [], []
        for no, line in enumerate(f.read_bytes().split(b"\n"), 1):
            try:
                json.loads(line)
            except ValueError:
                continue
            texts.append(line.decode())
            lines.append(no)
        table = pa.table({"raw_json": pa.array(texts, pa.string()), "origin_line": pa.array(lines, pa.int64())})
        pq.write_table(table, out / f"{i}.parquet", compression="zstd")
        rows += len(texts)
    return {"seconds": time.perf_counter() - t, "cpu": time.process_time() - cpu, "rows": rows}


def _one_core_import(src: Path, data_dir: Path) -> tuple[dict, float, float]:
    t, cpu = time.perf_counter(), time.process_time()
    summary = import_legacy([src], DataPaths.resolve(data_dir), legacy_root=src, workers=1)
    return summary, time.perf_counter() - t, time.process_time() - cpu


def measure(src: Path, work: Path, repeat: int = 3) -> dict:
    """Floor and import on one core each (CPU time is the fair ratio on a shared machine), interleaved
    `repeat` times after an untimed warm-up of both (first-call imports), medians; then the default
    import (worker processes) for wall time, then an unchanged rerun."""
    files = sorted(src.rglob("*.jsonl"))
    size = sum(f.stat().st_size for f in files)
    floor(files, work / "warm_floor")
    _one_core_import(src, work / "warm_import")
    bases, imports = [], []
    for i in range(repeat):
        bases.append(floor(files, work / f"floor{i}"))
        summary, secs, cpu = _one_core_import(src, work / f"one_core{i}")
        imports.append((secs, cpu))
    base = {"seconds": statistics.median(b["seconds"] for b in bases),
            "cpu": statistics.median(b["cpu"] for b in bases), "rows": bases[0]["rows"]}
    one_core_s = statistics.median(s for s, _ in imports)
    one_core_cpu = statistics.median(c for _, c in imports)
    t = time.perf_counter()
    import_legacy([src], DataPaths.resolve(work / "data"), legacy_root=src, workers=WORKERS)
    secs = time.perf_counter() - t
    t = time.perf_counter()
    rerun = import_legacy([src], DataPaths.resolve(work / "data"), legacy_root=src)
    rerun_secs = time.perf_counter() - t
    mb = size / 1e6
    return {
        "dir": str(src), "files": len(files), "mb": round(mb, 2), "records": summary["records"],
        "quarantine_rows": summary["quarantine_rows"], "repeat": repeat,
        "import_s": round(secs, 3), "files_per_s": round(len(files) / secs, 1),
        "records_per_s": round(summary["records"] / secs), "mb_per_s": round(mb / secs, 2),
        "one_core_s": round(one_core_s, 3), "one_core_cpu_s": round(one_core_cpu, 3),
        "floor_s": round(base["seconds"], 3), "floor_cpu_s": round(base["cpu"], 3),
        "floor_records_per_s": round(base["rows"] / base["seconds"]),
        "ratio_vs_floor_wall": round(one_core_s / base["seconds"], 2),
        "ratio_vs_floor_cpu": round(one_core_cpu / base["cpu"], 2),
        "rerun_unchanged_s": round(rerun_secs, 3), "rerun_skipped": rerun["skipped"],
    }


def synthesize(dst: Path, n_files: int) -> Path:
    dst.mkdir(parents=True)
    src = sorted(FIXTURES.glob("*.jsonl"))
    for i in range(n_files):
        f = src[i % len(src)]
        shutil.copyfile(f, dst / f"copy{i:04d}_{f.name}")
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default=str(FIXTURES))
    ap.add_argument("--files", type=int, default=1000, help="synthetic set size (0: skip)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the 'import s' run")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved floor/import rounds (medians)")
    args = ap.parse_args()
    global WORKERS
    WORKERS = args.workers
    with tempfile.TemporaryDirectory(prefix="vectra-bench-legacy-") as tmp:
        work = Path(tmp)
        result = {"given": measure(Path(args.dir).resolve(), work / "given", args.repeat)}
        if args.files:
            big = synthesize(work / "synthetic_src", args.files)
            result["synthetic"] = measure(big, work / "synthetic", args.repeat)
    print(json.dumps(result, indent=2))
    print()
    print("| set | files | MB | records | import s | files/s | records/s | MB/s | 1-core s | floor s "
          "| ratio wall (cpu) | unchanged rerun s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in result.items():
        print(f"| {name} | {r['files']} | {r['mb']} | {r['records']} | {r['import_s']} | {r['files_per_s']} | "
              f"{r['records_per_s']} | {r['mb_per_s']} | {r['one_core_s']} | {r['floor_s']} | "
              f"{r['ratio_vs_floor_wall']}x ({r['ratio_vs_floor_cpu']}x) | {r['rerun_unchanged_s']} |")


if __name__ == "__main__":
    main()
