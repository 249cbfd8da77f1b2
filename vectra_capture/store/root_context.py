"""The data root explains itself: `<root>/CONTEXT.md`, for a person or an assistant that lands there.

Rendered from what the root holds (the doc_type folders present, the schema manifest's version,
fields and natural keys), so it stays current; rewritten only when its text would change. Called
when the capture daemon starts and whenever a manifest is written (the schema manifest included).
"""

from __future__ import annotations

import json
import logging

from vectra_capture.store.atomic import atomic_write_bytes
from vectra_capture.store.layout import DataPaths

log = logging.getLogger(__name__)

FILE_NAME = "CONTEXT.md"
SCHEMA_MANIFEST = "schema_version"

_STATIC_HEAD = """# This is a Vectra data root

Vectra keeps a faithful history of the rugs.fun game feed here. **Parquet is the canonical truth**;
typed tables, vector tables and manifests are derived from it and can be deleted and rebuilt.
This file is rewritten by Vectra when the facts below change: edit it and your edits are lost.

## What lives where
```
events_parquet/doc_type=<t>/date=YYYY-MM-DD/*.parquet  raw (ws_event, system_event, debug_note) and typed tables
spool/<session>/*.wal        the capture daemon's write-ahead log, until it is rolled into Parquet
quarantine/<source>/date=YYYY-MM-DD/*.parquet   what could not be parsed: original bytes, reason, origin
vectors/{events,code_context,debug_notes}.lance   LanceDB vector tables (derived)
manifests/*.json             schema version, vector checkpoint, protocol verification, legacy import
run/                         the daemon's status file and locks
```
`date` is the UTC date of the event; `ts` is UTC. Every row carries the envelope: ts, source
(cdp, public_ws, replay, ui), doc_type, session_id, game_id, player_id, username, seq (strictly
increasing inside a session), direction (received, sent), raw_json (for ws_event the frame's JSON
array `["eventName", ...args]`: the payload is the LAST element).
"""

_STATIC_TAIL = """
## Query it with DuckDB (in memory; never open a .duckdb file another process holds)
```python
import duckdb
con = duckdb.connect(); con.execute("SET TimeZone = 'UTC'")
root = "{root}/events_parquet"
con.sql(f\"\"\"select event_name, count(*) from read_parquet('{{root}}/doc_type=ws_event/*/*.parquet',
            hive_partitioning=true) group by 1 order by 2 desc\"\"\")
# the payload of a frame: json_extract(raw_json, '$[#-1]')
```

## Rebuild what is derived
- typed tables: `dagster asset materialize -m vectra_pipeline.definitions --select game_tick --partition YYYY-MM-DD`
  (or a backfill in the Dagster UI); each date's partition is replaced whole.
- vector tables: `vectra index build --full`; schema manifest: `vectra schema check` / `vectra schema migrate`.
- everything out as JSONL: `vectra data export --format jsonl --output DIR`.
"""


def _schema_facts(paths: DataPaths) -> tuple[int | None, dict, dict]:
    try:
        manifest = json.loads((paths.manifests / f"{SCHEMA_MANIFEST}.json").read_text())
    except (OSError, ValueError):
        return None, {}, {}
    if not isinstance(manifest, dict):
        return None, {}, {}
    return manifest.get("version"), manifest.get("doc_types") or {}, manifest.get("keys") or {}


def render(paths: DataPaths) -> str:
    version, fields, keys = _schema_facts(paths)
    present = sorted(d.name.split("=", 1)[1] for d in paths.events_parquet.glob("doc_type=*") if d.is_dir())
    lines = [_STATIC_HEAD, "## Facts (kept current)",
             f"- schema version: {version if version is not None else 'not written yet (first derivation writes it)'}",
             f"- doc_types with data: {', '.join(present) if present else 'none yet'}", ""]
    if fields:
        lines += ["| doc_type | natural key | columns beyond the envelope |", "|---|---|---|"]
        envelope = {"ts", "source", "doc_type", "session_id", "game_id", "player_id", "username", "seq",
                    "direction", "raw_json"}
        for name in sorted(fields):
            extra = [c for c in fields[name] if c not in envelope]
            key = ", ".join(keys.get(name, [])) or "(raw: session_id, seq)"
            lines.append(f"| {name} | {key} | {', '.join(extra) or '-'} |")
    lines.append(_STATIC_TAIL.format(root=paths.location))
    return "\n".join(lines)


def refresh_root_context(paths: DataPaths) -> bool:
    """Write `<root>/CONTEXT.md` (on an object root: beside the canonical stores there) when its text
    would change; True if written."""
    path = paths.data_root / FILE_NAME
    text = render(paths)
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    try:
        atomic_write_bytes(path, text.encode())
    except OSError as exc:  # a convenience for readers: never worth failing a capture or a write for
        log.warning("could not refresh %s: %s", path, exc)
        return False
    return True
