"""manifests/schema_version.json: the schema version of the code and the fields of every doc_type.

check: the manifest exists, parses, its version equals the code's, and every Parquet file's fields
match it. migrate: run the migrations between the manifest's version and the code's, then rewrite it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from vectra_capture.store import read_manifest, write_manifest
from vectra_capture.store.envelope import RAW_SCHEMAS
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.remote_path import arrow_source
from vectra_pipeline.derive.run import derive_date
from vectra_pipeline.derive.schemas import KEYS, TYPED_SCHEMAS

log = logging.getLogger(__name__)

MANIFEST = "schema_version"
SCHEMA_VERSION = 3
# Nullable columns added after v1, by the version that added them. Files written before lack them and
# are not rewritten: every reader scans with union_by_name (missing = null), and the check accepts
# their absence. v2: ws_event.namespace / ack_id (the packet's namespace and ack id, kept verbatim);
# v3: ws_event.socket_id (the browser socket's CDP request id).
ADDED_COLUMNS: dict[str, dict[str, int]] = {"ws_event": {"namespace": 2, "ack_id": 2, "socket_id": 3}}


def _v1_to_v2(paths: DataPaths) -> None:
    """ws_event gains nullable `namespace` and `ack_id`: older files stay as they are (ADDED_COLUMNS)."""
    log.info("schema v2: ws_event files written before v2 keep their columns; namespace / ack_id read as null")


def _v2_to_v3(paths: DataPaths) -> None:
    """ws_event gains nullable `socket_id` (older files stay as they are, ADDED_COLUMNS); player_action
    gains the player's own orders as action types (BUY, SELL, PARTIAL_SELL, SIDEBET), `percentage`,
    and the ack answering each order, so every player_action date is derived again."""
    dates = sorted(p.name.split("=", 1)[1] for p in paths.doc_type_dir("player_action").glob("date=*") if p.is_dir())
    for date in dates:
        derive_date(paths, date, ("player_action",))
    log.info("schema v3: socket_id reads as null in older ws_event files; player_action re-derived for %d dates",
             len(dates))


# from-version -> function migrating the data root to from-version + 1 (rewrites Parquet if needed).
# Every step must be registered, a no-op one explicitly: a version bump without its step is an error.
MIGRATIONS: dict[int, Callable[[DataPaths], None]] = {1: _v1_to_v2, 2: _v2_to_v3}


@dataclass
class Outcome:
    passed: bool
    summary: str
    details: dict = field(default_factory=dict)


def type_name(t) -> str:
    # Parquet round trips name list children "element", Arrow "item": the same type
    return re.sub(r"<(item|element): ", "<", str(t))


def expected_manifest() -> dict:
    schemas = {**RAW_SCHEMAS, **TYPED_SCHEMAS}
    return {"version": SCHEMA_VERSION,
            "doc_types": {name: {f.name: type_name(f.type) for f in s} for name, s in sorted(schemas.items())},
            "keys": {name: list(key) for name, key in sorted(KEYS.items())},
            "added_columns": ADDED_COLUMNS}


def ensure_manifest(paths: DataPaths) -> bool:
    """Write the manifest when there is none (first run on a data root). True if written."""
    try:
        if read_manifest(paths, MANIFEST) is not None:
            return False
    except ValueError:
        return False  # garbled: leave it for the check to report and `schema migrate` to fix
    write_manifest(paths, MANIFEST, expected_manifest())
    return True


def file_fields(path) -> dict[str, str]:
    # hive partition columns (doc_type, date) live in the path, not the file
    return {f.name: type_name(f.type) for f in pq.read_schema(arrow_source(path))}


def check_manifest(paths: DataPaths) -> Outcome:
    try:
        manifest = read_manifest(paths, MANIFEST)
    except ValueError as exc:
        return Outcome(False, f"manifest does not parse: {exc}")
    if manifest is None:
        return Outcome(False, f"manifest missing: {paths.manifests / (MANIFEST + '.json')}")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("doc_types"), dict):
        return Outcome(False, "manifest has no doc_types object")
    if manifest.get("version") != SCHEMA_VERSION:
        return Outcome(False, f"manifest version {manifest.get('version')} != code version {SCHEMA_VERSION}",
                       {"manifest_version": manifest.get("version"), "code_version": SCHEMA_VERSION})
    mismatches: list[dict] = []
    files = 0
    for doc_dir in sorted(paths.events_parquet.glob("doc_type=*")):
        doc_type = doc_dir.name.split("=", 1)[1]
        want = manifest["doc_types"].get(doc_type)
        for f in sorted(doc_dir.glob("date=*/*.parquet")):
            files += 1
            have = file_fields(f)
            if want is None:
                mismatches.append({"file": str(f.relative_to(paths.root)), "problem": "doc_type not in manifest"})
                continue
            missing = sorted(set(want) - set(have) - set(ADDED_COLUMNS.get(doc_type, {})))
            extra = sorted(set(have) - set(want))
            changed = sorted(k for k in set(want) & set(have) if type_name(want[k]) != have[k])
            if missing or extra or changed:
                mismatches.append({"file": str(f.relative_to(paths.root)), "missing": missing, "extra": extra,
                                   "changed": {k: [want[k], have[k]] for k in changed}})
    details = {"version": SCHEMA_VERSION, "files_checked": files, "mismatches": len(mismatches),
               "examples": mismatches[:10]}
    if mismatches:
        return Outcome(False, f"{len(mismatches)} of {files} files do not match the manifest", details)
    return Outcome(True, f"manifest v{SCHEMA_VERSION} matches all {files} files", details)


def migrate(paths: DataPaths) -> Outcome:
    try:
        manifest = read_manifest(paths, MANIFEST)
    except ValueError:
        manifest = None  # garbled: rebuild it from the code
    current = manifest.get("version") if isinstance(manifest, dict) else None
    if isinstance(current, int) and current > SCHEMA_VERSION:
        return Outcome(False, f"manifest version {current} is newer than the code ({SCHEMA_VERSION}): upgrade vectra")
    ran = []
    if isinstance(current, int):
        missing = [f"{v}->{v + 1}" for v in range(current, SCHEMA_VERSION) if v not in MIGRATIONS]
        if missing:
            return Outcome(False, f"no migration registered for {', '.join(missing)}: manifest left at v{current}",
                           {"from": current, "to": SCHEMA_VERSION, "missing": missing})
        for v in range(current, SCHEMA_VERSION):
            log.info("migrating schema v%d -> v%d", v, v + 1)
            MIGRATIONS[v](paths)
            ran.append(f"{v}->{v + 1}")
    write_manifest(paths, MANIFEST, expected_manifest())
    return Outcome(True, f"manifest at v{SCHEMA_VERSION} (was {current})", {"from": current, "to": SCHEMA_VERSION,
                                                                              "migrations": ran})
