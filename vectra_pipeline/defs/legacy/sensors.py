"""Notice new or changed files in RUGS_LEGACY_DIR by stat only; request a `legacy_recordings` run."""


import hashlib
import json
from pathlib import Path

import dagster as dg

from vectra_pipeline.defs.legacy.assets import legacy_recordings
from vectra_pipeline.defs.legacy.resources import LegacyImportResource


def snapshot(root: Path) -> dict[str, list[int]]:
    """relative name -> [size, mtime_ns] of every *.jsonl below root (no file is opened)."""
    out: dict[str, list[int]] = {}
    for f in root.rglob("*.jsonl"):
        try:
            st = f.stat()
        except FileNotFoundError:
            continue  # removed while we looked
        out[f.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]
    return out


@dg.sensor(
    name="legacy_recordings_sensor",
    target=[legacy_recordings],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a legacy_recordings run when a *.jsonl file in RUGS_LEGACY_DIR is new or changed.",
)
def legacy_recordings_sensor(
    context: dg.SensorEvaluationContext, legacy_import: LegacyImportResource
) -> dg.SensorResult | dg.SkipReason:
    root = legacy_import.legacy_root()
    if not root.is_dir():
        return dg.SkipReason(f"legacy dir {root} does not exist")
    now = snapshot(root)
    before: dict[str, list[int]] = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(k for k, v in now.items() if before.get(k) != v)
    cursor = json.dumps(now, sort_keys=True)
    if not changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{len(now)} files, none new or changed"),
                               cursor=cursor)
    run_key = hashlib.sha1(cursor.encode()).hexdigest()[:20]
    context.log.info("legacy files new or changed: %d (e.g. %s)", len(changed), ", ".join(changed[:5]))
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"legacy/changed_files": str(len(changed))})],
        cursor=cursor,
    )
