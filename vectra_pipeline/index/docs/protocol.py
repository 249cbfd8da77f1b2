"""One document per protocol event name: catalog facts plus statistics over the captured raw data.

Statistics (count, directions, key -> JSON type -> count, first sample) are computed per raw ws_event
file and cached per file through the store's index cache, keyed by path, size and mtime, so an
incremental build scans only new or changed raw files, never the whole history. Per-file rows merge
to the same result whatever the file split.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vectra_capture.protocol.catalog import CATALOG, status_of
from vectra_capture.protocol.models import MODELS, known_fields
from vectra_capture.store.index_cache import protocol_stats_dir, remove_protocol_stats, write_protocol_stats
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import sql_values
from vectra_pipeline.index.docs.common import (
    PAYLOAD_SQL,
    WS_EVENT_AGGREGATE,
    Doc,
    compact,
    json_text,
    short_hash,
    source_key,
)

_TYPE_NAMES = {"VARCHAR": "string", "BIGINT": "integer", "UBIGINT": "integer", "DOUBLE": "number",
               "BOOLEAN": "boolean", "OBJECT": "object", "ARRAY": "array", "NULL": "null"}

# the payload view over a list of raw files, with the file each row came from
_FILE_PAYLOAD_VIEW = """
CREATE OR REPLACE TEMP VIEW fpayloads AS
SELECT filename AS f, event_name, direction, ts, session_id, seq, {payload} AS p
FROM read_parquet([{files}], union_by_name=true, filename=true) WHERE json_valid(raw_json)
"""

STATS_SCHEMA_FIELDS = (
    ("file", "string"), ("size", "int64"), ("mtime_ns", "int64"), ("invalid", "int64"), ("event_name", "string"),
    ("n", "int64"), ("directions", "list<string>"), ("arrays", "int64"), ("sample_ts_us", "int64"),
    ("sample_session", "string"), ("sample_seq", "int64"), ("sample", "string"), ("fields", "string"),
)


@dataclass
class ProtocolBuild:
    docs: list[Doc]
    invalid: int  # raw rows whose raw_json does not parse
    files_computed: int  # raw files whose statistics were computed (not taken from the cache)


def _cache_name(key: str) -> str:
    return short_hash(key)


def _stats_schema() -> pa.Schema:
    types = {"string": pa.string(), "int64": pa.int64(), "list<string>": pa.list_(pa.string())}
    return pa.schema([(n, types[t]) for n, t in STATS_SCHEMA_FIELDS])


def compute_file_stats(paths: DataPaths, con: Any, files: dict[str, Path]) -> dict[str, list[dict]]:
    """Per raw file, one stats row per event name (count, directions, array payloads, first sample by
    (ts, session_id, seq), key -> JSON type -> count) in one scan over all given files."""
    if not files:
        return {}
    by_path = {str(p): k for k, p in files.items()}
    literals = sql_values(by_path)
    out: dict[str, list[dict]] = {}
    invalid = dict(con.execute(
        f"SELECT filename, count(*) FILTER (WHERE NOT json_valid(raw_json)) "
        f"FROM read_parquet([{literals}], union_by_name=true, filename=true) GROUP BY 1").fetchall())
    con.execute(_FILE_PAYLOAD_VIEW.format(payload=PAYLOAD_SQL, files=literals))
    events: dict[tuple[str, str], dict] = {}
    for f, name, n, dirs, arrays, sample, s_ts, s_sess, s_seq in con.execute(
        """SELECT f, event_name, count(*), list(DISTINCT direction ORDER BY direction),
                  count(*) FILTER (WHERE json_type(p) = 'ARRAY'),
                  arg_min(p::VARCHAR, (ts, session_id, seq)), arg_min(epoch_us(ts), (ts, session_id, seq)),
                  arg_min(session_id, (ts, session_id, seq)), arg_min(seq, (ts, session_id, seq))
           FROM fpayloads GROUP BY 1, 2"""
    ).fetchall():
        events[(f, name)] = {"event_name": name, "n": n, "directions": dirs, "arrays": arrays,
                             "sample": _compact_sample(sample), "sample_ts_us": s_ts, "sample_session": s_sess,
                             "sample_seq": s_seq, "fields": {}}
    for f, name, key, jtype, n in con.execute(
        """WITH o AS (SELECT f, event_name, CASE WHEN json_type(p) = 'ARRAY' THEN p -> '$[0]' ELSE p END AS o
                      FROM fpayloads),
                k AS (SELECT f, event_name, o, unnest(json_keys(o)) AS key FROM o WHERE json_type(o) = 'OBJECT')
           SELECT f, event_name, key, json_type(o, '$."' || key || '"'), count(*) FROM k GROUP BY 1, 2, 3, 4"""
    ).fetchall():
        events[(f, name)]["fields"].setdefault(key, {})[str(jtype)] = n
    for path, key in by_path.items():
        st = files[key].stat()
        base = {"file": key, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "invalid": invalid.get(path, 0)}
        rows = [{**base, **ev, "fields": json_text(ev["fields"])}
                for (f, _), ev in sorted(events.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))) if f == path]
        out[key] = rows or [{**base, "event_name": None, "n": 0, "directions": [], "arrays": 0, "sample": None,
                             "sample_ts_us": None, "sample_session": None, "sample_seq": None, "fields": "{}"}]
    return out


def _compact_sample(sample: str | None) -> str | None:
    if sample is None:
        return None
    try:
        return json_text(compact(json.loads(sample)))
    except json.JSONDecodeError:
        return None


def merge_file_stats(per_file: Iterable[list[dict]]) -> tuple[dict[str, dict], int]:
    """Whole-history statistics per event name from per-file rows; same result whatever the file split."""
    merged: dict[str, dict] = {}
    invalid = 0
    for rows in per_file:
        invalid += rows[0]["invalid"] if rows else 0
        for r in rows:
            if r["event_name"] is None:
                continue
            m = merged.setdefault(r["event_name"], {"n": 0, "directions": set(), "arrays": 0, "sample": None,
                                                    "key": None, "types": {}})
            m["n"] += r["n"]
            m["directions"].update(d for d in r["directions"] if d is not None)
            m["arrays"] += r["arrays"]
            key = (r["sample_ts_us"], r["sample_session"] or "", r["sample_seq"])
            if m["key"] is None or key < m["key"]:
                m["key"], m["sample"] = key, r["sample"]
            for field_key, types in json.loads(r["fields"]).items():
                acc = m["types"].setdefault(field_key, {})
                for jtype, n in types.items():
                    acc[jtype] = acc.get(jtype, 0) + n
    stats = {}
    for name, m in merged.items():
        fields = []
        for field_key, types in m["types"].items():
            jtype = min(types, key=lambda t: (-types[t], t))  # the usual type; ties by name, deterministic
            fields.append((field_key, sum(types.values()), _TYPE_NAMES.get(jtype, jtype.lower())))
        fields.sort(key=lambda x: (-x[1], x[0]))
        stats[name] = {"n": m["n"], "directions": sorted(m["directions"]), "arrays": m["arrays"],
                       "sample": m["sample"], "fields": fields}
    return stats, invalid


def _cached_stats(cached: Path, key: str, path: Path) -> list[dict] | None:
    """The cached rows of one raw file if they still describe it (same path, size and mtime)."""
    try:
        rows = pq.read_table(cached).to_pylist()
    except (OSError, pa.ArrowException):
        return None  # a damaged cache file is simply recomputed
    st = path.stat()
    if rows and rows[0]["file"] == key and rows[0]["size"] == st.st_size and rows[0]["mtime_ns"] == st.st_mtime_ns:
        return rows
    return None


def protocol_docs(paths: DataPaths, con: Any, *, use_cache: bool = True) -> ProtocolBuild:
    """One document per event name known to the catalog/models or seen in raw ws_event data.
    use_cache=False (full builds) recomputes every raw file's statistics."""
    files = {source_key(paths, p): p for p in sorted(paths.doc_type_dir("ws_event").glob("date=*/*.parquet"))}
    cache_dir = protocol_stats_dir(paths)
    per_file: dict[str, list[dict]] = {}
    todo: dict[str, Path] = {}
    for key, path in files.items():
        cached = cache_dir / f"{_cache_name(key)}.parquet"
        rows = _cached_stats(cached, key, path) if use_cache and cached.exists() else None
        if rows:
            per_file[key] = rows
        else:
            todo[key] = path
    computed = compute_file_stats(paths, con, todo)
    schema = _stats_schema()
    for key, rows in computed.items():
        write_protocol_stats(paths, _cache_name(key), pa.Table.from_pylist(rows, schema=schema))
        per_file[key] = rows
    live = {_cache_name(k) for k in files}
    for stale in sorted(cache_dir.glob("*.parquet")) if cache_dir.exists() else []:
        if stale.stem not in live:  # the raw file is gone
            remove_protocol_stats(paths, stale.stem)
    stats, invalid = merge_file_stats(per_file[k] for k in sorted(per_file))
    docs = [_protocol_doc(name, CATALOG.get(name), stats.get(name), status_of(paths, name).status)
            for name in sorted(set(CATALOG) | set(MODELS) | set(stats))]
    return ProtocolBuild(docs, invalid, len(computed))


def _model_fields(event_name: str) -> list[str]:
    model = MODELS.get(event_name)
    return sorted(known_fields(model)) if model else []


def _protocol_doc(name: str, info: Any, st: dict | None, status: str) -> Doc:
    lines = [f"Protocol event {name}."]
    if info is not None:
        login = "needs a logged-in session" if info.needs_login else "public, no login needed"
        traced = {True: " Arrives traced (payload is the last argument).", False: " Not traced.", None: ""}[info.traced]
        lines.append(f"Direction: {info.direction}; {login}. Verification: {status}.{traced}")
        lines.append(f"Meaning: {info.meaning}")
    else:
        lines.append(f"Not in the protocol catalog (unknown event name). Verification: {status}.")
    if st:
        shape = " Payload is a JSON array." if st["arrays"] and st["arrays"] == st["n"] else ""
        lines.append(f"Seen {st['n']} times, direction {', '.join(st['directions'])}.{shape}")
        if st["fields"]:
            parts = [f"{k} {t} {round(100 * c / st['n'])}%" for k, c, t in st["fields"][:40]]
            more = f" and {len(st['fields']) - 40} more" if len(st["fields"]) > 40 else ""
            lines.append(f"Fields of {name} (type, share of payloads present): " + ", ".join(parts) + more + ".")
    else:
        model_fields = _model_fields(name)
        if model_fields:
            lines.append(f"Fields of {name} (from the model, not seen in data yet): " + ", ".join(model_fields) + ".")
        else:
            lines.append("Not seen in the captured data yet.")
    if info is not None:
        lines.extend(f"- {fact}" for fact in info.facts)
    if st and st["sample"]:
        lines.append("Sample: " + st["sample"])  # compacted when the file's statistics were computed
    return Doc(id=f"protocol:{name}", text="\n".join(lines), kind="protocol", source_file=WS_EVENT_AGGREGATE,
               event_name=name)
