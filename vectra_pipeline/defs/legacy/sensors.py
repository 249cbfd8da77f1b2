"""Notice new or changed files in RUGS_LEGACY_DIR by stat only; request a `legacy_recordings` run.

"Changed" is judged against the import manifest (manifests/legacy_import.json: what was actually
imported), not against what this sensor saw last time: a file whose run failed, or whose import failed
inside a run, stays changed until an import succeeds for it. The cursor only remembers the last request
(a hash of the changed files' stats and when), so the same state is re-requested after RETRY_SECONDS
instead of every minute while a run is still going."""


import hashlib
import json
import time
from pathlib import Path
from typing import Any

import dagster as dg

from vectra_capture.legacy.importer import MANIFEST, READER_VERSION
from vectra_capture.store import read_manifest
from vectra_capture.store.fingerprints import same_stat, stat_entry
from vectra_pipeline.defs.legacy.assets import legacy_recordings
from vectra_pipeline.defs.legacy.resources import LegacyImportResource

RETRY_SECONDS = 900  # a run of the whole legacy dir takes minutes; a failed one is retried after this


def snapshot(root: Path) -> dict[str, dict[str, int]]:
    """relative name -> {size, mtime_ns} of every *.jsonl below root (no file is opened)."""
    out: dict[str, dict[str, int]] = {}
    for f in root.rglob("*.jsonl"):
        try:
            out[f.relative_to(root).as_posix()] = stat_entry(f)
        except FileNotFoundError:
            continue  # removed while we looked
    return out


def not_imported(now: dict[str, dict[str, int]], manifest: dict[str, Any] | None) -> list[str]:
    """Files whose current stat differs from the manifest's record of their last successful import."""
    entries = (manifest or {}).get("files", {})
    out = []
    for name, current in now.items():
        entry = entries.get(name)
        if not entry or entry.get("reader_version") != READER_VERSION or not same_stat(entry, current):
            out.append(name)
    return sorted(out)


@dg.sensor(
    name="legacy_recordings_sensor",
    target=[legacy_recordings],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a legacy_recordings run while a *.jsonl file in RUGS_LEGACY_DIR is new or changed "
                "since its last successful import.",
)
def legacy_recordings_sensor(
    context: dg.SensorEvaluationContext, legacy_import: LegacyImportResource
) -> dg.SensorResult | dg.SkipReason:

    root = legacy_import.legacy_root()
    if not root.is_dir():
        return dg.SkipReason(f"legacy dir {root} does not exist")
    now = snapshot(root)
    changed = not_imported(now, read_manifest(legacy_import.data_paths(), MANIFEST))
    if not changed:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{len(now)} files, all imported"), cursor="{}")
    state = hashlib.sha1(json.dumps({k: now[k] for k in changed}, sort_keys=True).encode()).hexdigest()[:20]
    last: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
    if last.get("state") == state and time.time() - last.get("requested_at", 0) < RETRY_SECONDS:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"{len(changed)} files not imported yet; a run was requested for them "
                                      f"{time.time() - last['requested_at']:.0f} s ago"),
            cursor=context.cursor,
        )
    attempt = last.get("attempt", 0) + 1 if last.get("state") == state else 1
    cursor = json.dumps({"state": state, "requested_at": time.time(), "attempt": attempt, "changed": changed[:50]})
    context.log.info("legacy files new or changed: %d (e.g. %s), attempt %d", len(changed),
                     ", ".join(changed[:5]), attempt)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"{state}-{attempt}",
                                    tags={"legacy/changed_files": str(len(changed))})],
        cursor=cursor,
    )
