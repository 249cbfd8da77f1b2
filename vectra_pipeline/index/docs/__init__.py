"""Document builders: turn canonical data into small, meaningful texts for the vector tables.

Never one vector per tick: one document per event name (the protocol), per game, per trade / side bet /
chat message / system event, per CONTEXT.md section and per decision record or note. Every builder is
deterministic (sorted input, stable ids), so two full builds give the same ids and texts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import vectra_capture
import vectra_pipeline
from vectra_capture.protocol.catalog import CATALOG, status_of
from vectra_capture.store.index_cache import (
    protocol_stats_dir,
    remove_protocol_stats,
    write_protocol_stats,
)
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import PAYLOAD_PATH

log = logging.getLogger(__name__)

REPO_ROOT_ENV = "VECTRA_REPO_ROOT"
WS_EVENT_AGGREGATE = "events_parquet/doc_type=ws_event"  # source_file of docs built over all raw events
SHORT_DOC_EVENTS = ("standard/newTrade", "newChatMessage", "newSideBet", "currentSidebet", "currentSidebetResult")


@dataclass(frozen=True)
class Doc:
    id: str
    text: str
    kind: str
    source_file: str
    event_name: str | None = None
    game_id: str | None = None
    player_id: str | None = None
    date: str | None = None
    path: str | None = None  # repo-relative file path (code_context, debug_notes)

    @property
    def text_hash(self) -> str:
        return hashlib.sha1(self.text.encode()).hexdigest()


def _sha(text: str, n: int = 16) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def rel(paths: DataPaths, path: Path) -> str:
    return path.relative_to(paths.root).as_posix()


def compact(value: Any, depth: int = 0, max_items: int = 3, max_str: int = 60) -> Any:
    """A trimmed copy of a JSON value for samples: short lists, short strings, shallow nesting."""
    if isinstance(value, dict):
        if depth >= 2:
            return "{…}"
        items = list(value.items())
        out = {k: compact(v, depth + 1, max_items, max_str) for k, v in items[:24]}
        if len(items) > 24:
            out["…"] = f"{len(items) - 24} more keys"
        return out
    if isinstance(value, list):
        if depth >= 2:
            return f"[{len(value)} items]"
        out_list = [compact(v, depth + 1, max_items, max_str) for v in value[:max_items]]
        if len(value) > max_items:
            out_list.append(f"… {len(value) - max_items} more")
        return out_list
    if isinstance(value, str) and len(value) > max_str:
        return value[:max_str] + "…"
    return value


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False, default=str)


# ---------------------------------------------------------------- protocol documents (events table)

_TYPE_NAMES = {"VARCHAR": "string", "BIGINT": "integer", "UBIGINT": "integer", "DOUBLE": "number",
               "BOOLEAN": "boolean", "OBJECT": "object", "ARRAY": "array", "NULL": "null"}

_PAYLOAD_SQL = """
CREATE OR REPLACE TEMP VIEW payloads AS
SELECT event_name, direction, ts, session_id, seq, game_id,
       CASE WHEN json_type(raw_json::JSON) = 'ARRAY' AND NOT starts_with(event_name, 'legacy.')
            THEN json_extract(raw_json, '{PAYLOAD_PATH}') ELSE raw_json::JSON END AS p
FROM read_parquet({glob}, union_by_name=true) WHERE json_valid(raw_json)
"""

# the same payload view over a list of files, with the file each row came from
_FILE_PAYLOAD_SQL = """
CREATE OR REPLACE TEMP VIEW fpayloads AS
SELECT filename AS f, event_name, direction, ts, session_id, seq,
       CASE WHEN json_type(raw_json::JSON) = 'ARRAY' AND NOT starts_with(event_name, 'legacy.')
            THEN json_extract(raw_json, '{PAYLOAD_PATH}') ELSE raw_json::JSON END AS p
FROM read_parquet([{files}], union_by_name=true, filename=true) WHERE json_valid(raw_json)
"""

def _literal(text: str) -> str:
    """A SQL string literal (a view definition cannot take a prepared parameter)."""
    return "'" + text.replace("'", "''") + "'"


def _model_fields(event_name: str) -> list[str]:
    try:
        from vectra_capture.protocol.models import MODELS, known_fields
    except ImportError:  # the models module is optional for indexing
        return []
    model = MODELS.get(event_name)
    return sorted(known_fields(model)) if model else []


def _model_names() -> set[str]:
    try:
        from vectra_capture.protocol.models import MODELS
    except ImportError:
        return set()
    return set(MODELS)


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


def _stats_name(key: str) -> str:
    return _sha(key)


def _stats_schema() -> Any:
    types = {"string": pa.string(), "int64": pa.int64(), "list<string>": pa.list_(pa.string())}
    return pa.schema([(n, types[t]) for n, t in STATS_SCHEMA_FIELDS])


def compute_file_stats(paths: DataPaths, con: Any, files: dict[str, Path]) -> dict[str, list[dict]]:
    """Per raw file, one stats row per event name (count, directions, array payloads, first sample by
    (ts, session_id, seq), key -> JSON type -> count) in one scan over all given files."""
    if not files:
        return {}
    by_path = {str(p): k for k, p in files.items()}
    lits = ", ".join(_literal(p) for p in by_path)
    out: dict[str, list[dict]] = {}
    invalid = dict(con.execute(
        f"SELECT filename, count(*) FILTER (WHERE NOT json_valid(raw_json)) "
        f"FROM read_parquet([{lits}], union_by_name=true, filename=true) GROUP BY 1").fetchall())
    con.execute(_FILE_PAYLOAD_SQL.format(PAYLOAD_PATH=PAYLOAD_PATH, files=lits))
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
        rows = [{**base, **ev, "fields": _json_text(ev["fields"])}
                for (f, _), ev in sorted(events.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))) if f == path]
        out[key] = rows or [{**base, "event_name": None, "n": 0, "directions": [], "arrays": 0, "sample": None,
                             "sample_ts_us": None, "sample_session": None, "sample_seq": None, "fields": "{}"}]
    return out


def _compact_sample(sample: str | None) -> str | None:
    if sample is None:
        return None
    try:
        return _json_text(compact(json.loads(sample)))
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


def protocol_docs(paths: DataPaths, con: Any, *, use_cache: bool = True) -> ProtocolBuild:
    """One document per event name known to the catalog/models or seen in raw ws_event data.
    Statistics are cached per raw file (keyed by path, size, mtime): an incremental build scans only new
    or changed raw files, not the whole history. use_cache=False (full builds) recomputes every file."""


    files = {rel(paths, p): p for p in sorted(paths.doc_type_dir("ws_event").glob("date=*/*.parquet"))}
    cache_dir = protocol_stats_dir(paths)
    per_file: dict[str, list[dict]] = {}
    todo: dict[str, Path] = {}
    for key, path in files.items():
        cached = cache_dir / f"{_stats_name(key)}.parquet"
        rows: list[dict] = []
        if use_cache and cached.exists():
            try:
                rows = pq.read_table(cached).to_pylist()
            except (OSError, pa.ArrowException):
                rows = []  # a damaged cache file is simply recomputed
        st = path.stat()
        if rows and rows[0]["file"] == key and rows[0]["size"] == st.st_size and rows[0]["mtime_ns"] == st.st_mtime_ns:
            per_file[key] = rows
        else:
            todo[key] = path
    computed = compute_file_stats(paths, con, todo)
    schema = _stats_schema()
    for key, rows in computed.items():
        write_protocol_stats(paths, _stats_name(key), pa.Table.from_pylist(rows, schema=schema))
        per_file[key] = rows
    live = {_stats_name(k) for k in files}
    for stale in sorted(cache_dir.glob("*.parquet")) if cache_dir.exists() else []:
        if stale.stem not in live:  # the raw file is gone
            remove_protocol_stats(paths, stale.stem)
    stats, invalid = merge_file_stats(per_file[k] for k in sorted(per_file))
    docs = []
    for name in sorted(set(CATALOG) | _model_names() | set(stats)):
        docs.append(_protocol_doc(name, CATALOG.get(name), stats.get(name), status_of(paths, name).status))
    return ProtocolBuild(docs, invalid, len(computed))


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


# ---------------------------------------------------------------- trades, side bets, chat (per raw file)


def short_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    """Trades, side bets and chat messages of one raw ws_event file."""
    rows = con.execute(
        f"""SELECT event_name, game_id, player_id, username, strftime(ts, '%Y-%m-%d') AS date,
                   strftime(ts, '%Y-%m-%d %H:%M:%S') AS at, raw_json
            FROM read_parquet(?, union_by_name=true)
            WHERE event_name IN ({", ".join("?" * len(SHORT_DOC_EVENTS))})
            ORDER BY ts, session_id, seq""",
        [str(file), *SHORT_DOC_EVENTS],
    ).fetchall()
    source = rel(paths, file)
    docs: dict[str, Doc] = {}
    for event_name, game_id, player_id, username, date, at, raw in rows:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            continue  # invalid rows are counted by protocol_docs
        payload = value[-1] if isinstance(value, list) and value else value
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            if not isinstance(item, dict):
                continue
            doc = _short_doc(event_name, item, game_id, player_id, username, date, at, source)
            docs.setdefault(doc.id, doc)  # the same trade captured 3x is one document
    return list(docs.values())


def _who(item: dict, username: str | None, player_id: str | None) -> str:
    name = item.get("username") or username
    pid = item.get("playerId") or player_id
    return f"{name} ({pid})" if name else f"anonymous player {pid}"


def _short_doc(event_name: str, item: dict, game_id: str | None, player_id: str | None, username: str | None,
               date: str, at: str, source: str) -> Doc:
    gid = item.get("gameId") or game_id
    pid = item.get("playerId") or player_id
    who = _who(item, username, player_id)
    if event_name == "standard/newTrade":
        qty = f", qty {item['qty']}" if item.get("qty") is not None else ""
        lev = f", leverage {item['leverage']}x" if item.get("leverage") not in (None, 1) else ""
        text = (f"Trade {item.get('type')} by {who} (level {item.get('level')}) in game {gid} at tick "
                f"{item.get('tickIndex')}: amount {item.get('amount')} {item.get('coin') or ''} at price "
                f"{item.get('price')}{qty}{lev}. Time {at} UTC.")
        key = str(item.get("id") or _sha(_json_text(item)))
        return Doc(id=f"trade:{key}", text=text, kind="trade", source_file=source, event_name=event_name,
                   game_id=gid, player_id=pid, date=date)
    if event_name == "newChatMessage":
        text = f"Chat message from {who} (level {item.get('level')}) at {at} UTC: {item.get('message')}"
        key = _sha(f"{pid}|{item.get('timestamp')}|{item.get('message')}")
        return Doc(id=f"chat:{key}", text=text, kind="chat", source_file=source, event_name=event_name,
                   game_id=gid, player_id=pid, date=date)
    fields = ", ".join(f"{k} {item[k]}" for k in ("type", "betAmount", "xPayout", "startTick", "endTick",
                                                     "tickIndex", "payout", "profit") if item.get(k) is not None)
    text = f"Side bet ({event_name}) by {who} in game {gid}: {fields}. Time {at} UTC."
    key = _sha(f"{event_name}|{_json_text(item)}")
    return Doc(id=f"sidebet:{key}", text=text, kind="sidebet", source_file=source, event_name=event_name,
               game_id=gid, player_id=pid, date=date)


def system_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    rows = con.execute(
        """SELECT event_name, session_id, seq, strftime(ts, '%Y-%m-%d'), strftime(ts, '%Y-%m-%d %H:%M:%S'), raw_json
           FROM read_parquet(?, union_by_name=true) ORDER BY ts, session_id, seq""",
        [str(file)],
    ).fetchall()
    source = rel(paths, file)
    docs = []
    for event_name, session_id, seq, date, at, raw in rows:
        try:
            details = _json_text(compact(json.loads(raw)))
        except json.JSONDecodeError:
            details = raw[:300]
        text = f"System event {event_name} of the capture daemon at {at} UTC (session {session_id}): {details}"
        docs.append(Doc(id=f"system:{session_id}:{seq}", text=text, kind="system_event", source_file=source,
                        event_name=event_name, date=date))
    return docs


# ---------------------------------------------------------------- games


def _fmt(value: Any) -> str:
    if value is None:
        return "unknown"
    text = str(value)
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text.lower() else text


def _complete_games(paths: DataPaths, con: Any) -> dict[str, dict]:
    if not any(paths.doc_type_dir("complete_game").glob("date=*/*.parquet")):
        return {}
    cur = con.execute("SELECT * FROM read_parquet(?, union_by_name=true) ORDER BY game_id",
                      [paths.glob("complete_game")])
    cols = [d[0] for d in cur.description]
    return {row[cols.index("game_id")]: dict(zip(cols, row, strict=True)) for row in cur.fetchall()}


def game_docs_for_file(paths: DataPaths, con: Any, file: Path, complete: dict[str, dict]) -> list[Doc]:
    """Game documents from one `games` partition file, enriched with `complete_game` rows."""
    cur = con.execute("SELECT * FROM read_parquet(?, union_by_name=true) ORDER BY game_id", [str(file)])
    cols = [d[0] for d in cur.description]
    source = rel(paths, file)
    docs = []
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        docs.append(_game_doc(row, complete.get(row.get("game_id")), source))
    return docs


def _game_doc(row: dict, cg: dict | None, source: str) -> Doc:
    gid = row.get("game_id")
    first = row.get("first_seen")
    date = first.strftime("%Y-%m-%d") if hasattr(first, "strftime") else (gid or "")[:8]
    peak = row.get("peak") if row.get("peak") is not None else (cg or {}).get("peak_multiplier")
    ticks = row.get("max_tick") if row.get("max_tick") is not None else row.get("ticks")
    parts = [f"Game {gid} on {date}: {_fmt(ticks)} ticks, peak multiplier {_fmt(peak)}x"]
    if row.get("rug_tick") is not None or row.get("rug_price") is not None:
        parts.append(f"rugged at tick {_fmt(row.get('rug_tick'))} at price {_fmt(row.get('rug_price'))}")
    parts.append(f"{_fmt(row.get('trade_count'))} trades seen")
    if cg:
        parts.append(f"{_fmt(cg.get('global_trades'))} trades and {_fmt(cg.get('global_sidebets'))} side bets "
                     f"by the server's game history")
    god = {k: v for k, v in {**(cg or {}), **row}.items() if "god" in k.lower() and v not in (None, 0, False)}
    if god:
        parts.append("god candles: " + ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(god.items())))
    seed = row.get("seed_verified") if row.get("seed_verified") is not None else (cg or {}).get("seed_verified")
    if seed is not None:
        parts.append("provably fair seed verified" if seed else "provably fair seed NOT verified")
    if row.get("sources"):
        parts.append("sources " + ", ".join(row["sources"]))
    if row.get("completed") is not None:
        parts.append("complete" if row["completed"] else "incomplete (not seen to the end)")
    return Doc(id=f"game:{gid}", text="; ".join(parts) + ".", kind="game", source_file=source,
               event_name="gameStateUpdate", game_id=gid, date=date)


_RAW_GAMES_SQL = """
WITH t AS (
  SELECT coalesce(game_id, p ->> 'gameId', p ->> 'game_id') AS game_id, ts, event_name,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'tick' ELSE p ->> 'tickCount' END AS BIGINT) AS tick,
         TRY_CAST(p ->> 'price' AS DECIMAL(38, 18)) AS price,
         TRY_CAST(p ->> 'rugged' AS BOOLEAN) AS rugged,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'trade_count' ELSE p ->> 'tradeCount' END AS BIGINT) AS trades,
         CASE WHEN event_name = 'legacy.tick' THEN p ->> 'phase' END AS phase,
         TRY_CAST(CASE WHEN event_name = 'legacy.tick' THEN p ->> 'cooldown_timer' ELSE p ->> 'cooldownTimer' END AS BIGINT) AS cooldown
  FROM payloads WHERE event_name IN ('gameStateUpdate', 'legacy.tick')
), play AS (SELECT * FROM t WHERE game_id IS NOT NULL AND tick IS NOT NULL AND coalesce(cooldown, 0) = 0
            AND coalesce(phase, '') NOT IN ('UNKNOWN', 'PRESALE'))
SELECT game_id, strftime(min(ts), '%Y-%m-%d'), max(tick), max(price), min(tick) FILTER (WHERE rugged),
       arg_min(price, tick) FILTER (WHERE rugged), max(trades), list(DISTINCT event_name ORDER BY event_name)
FROM play GROUP BY game_id ORDER BY game_id
"""


def game_docs_from_raw(paths: DataPaths, con: Any) -> list[Doc]:
    """Fallback when the typed `games` table is not built: games from raw gameStateUpdate/legacy.tick."""
    if not any(paths.doc_type_dir("ws_event").glob("date=*/*.parquet")):
        return []
    con.execute(_PAYLOAD_SQL.format(PAYLOAD_PATH=PAYLOAD_PATH, glob=_literal(paths.glob("ws_event"))))
    docs = []
    for gid, date, max_tick, peak, rug_tick, rug_price, trades, events in con.execute(_RAW_GAMES_SQL).fetchall():
        row = {"game_id": gid, "max_tick": max_tick, "peak": peak, "rug_tick": rug_tick, "rug_price": rug_price,
               "trade_count": trades, "sources": events}
        doc = _game_doc(row, None, WS_EVENT_AGGREGATE)
        docs.append(Doc(**{**doc.__dict__, "date": date}))
    return docs


# ---------------------------------------------------------------- repo documents (code_context, debug_notes)


def repo_root() -> Path | None:
    """$VECTRA_REPO_ROOT, else the checkout the package was installed from (editable install)."""
    configured = os.environ.get(REPO_ROOT_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    candidate = Path(vectra_pipeline.__file__).resolve().parents[1]
    return candidate if (candidate / "pyproject.toml").exists() else None


def _package_dirs() -> list[Path]:
    return [Path(vectra_capture.__file__).parent, Path(vectra_pipeline.__file__).parent]


_SKIP_DIRS = {".venv", ".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "dagster_home"}


def context_files() -> list[tuple[str, Path]]:
    """(repo-relative path, file) of every CONTEXT.md: in the repo root, else in the installed packages."""
    root = repo_root()
    found: list[tuple[str, Path]] = []
    if root is not None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
            if "CONTEXT.md" in filenames and "fixtures" not in Path(dirpath).parts:
                f = Path(dirpath) / "CONTEXT.md"
                found.append((f.relative_to(root).as_posix(), f))
    else:
        for pkg in _package_dirs():
            for f in sorted(pkg.rglob("CONTEXT.md")):
                found.append((f.relative_to(pkg.parent).as_posix(), f))
    return sorted(found)


def decision_files() -> list[tuple[str, Path]]:
    root = repo_root()
    if root is None:
        return []
    return [(f.relative_to(root).as_posix(), f) for f in sorted((root / "docs" / "decisions").glob("*.md"))]


def split_sections(text: str) -> list[tuple[str, str]]:
    """(heading, body) per `## ` section; text before the first one is the "intro" section."""
    sections: list[tuple[str, str]] = []
    heading, body = "intro", []
    for line in text.splitlines():
        if line.startswith("## "):
            if "".join(body).strip():
                sections.append((heading, "\n".join(body).strip()))
            heading, body = line[3:].strip(), []
        else:
            body.append(line)
    if "".join(body).strip():
        sections.append((heading, "\n".join(body).strip()))
    # a title line alone is not a section worth a vector
    return [(h, b) for h, b in sections if not (h == "intro" and all(x.startswith("# ") for x in b.splitlines() if x.strip()))]


def context_docs(relpath: str, file: Path) -> list[Doc]:
    title = file.read_text(encoding="utf-8", errors="replace")
    folder = str(Path(relpath).parent)
    docs = []
    for i, (heading, body) in enumerate(split_sections(title)):
        slug = re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-") or str(i)
        docs.append(Doc(id=f"context:{relpath}#{slug}", text=f"{folder} CONTEXT.md, {heading}:\n{body}",
                        kind="code_context", source_file=f"repo:{relpath}", path=relpath))
    return docs


def decision_doc(relpath: str, file: Path) -> Doc:
    text = file.read_text(encoding="utf-8", errors="replace").strip()
    return Doc(id=f"decision:{relpath}", text=text, kind="decision", source_file=f"repo:{relpath}", path=relpath)


def note_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    rows = con.execute(
        "SELECT session_id, strftime(ts, '%Y-%m-%d'), strftime(ts, '%Y-%m-%d %H:%M:%S'), text "
        "FROM read_parquet(?, union_by_name=true) ORDER BY ts, session_id",
        [str(file)],
    ).fetchall()
    source = rel(paths, file)
    return [Doc(id=f"note:{sid}", text=f"Debug note ({at} UTC): {text}", kind="note", source_file=source, date=date)
            for sid, date, at, text in rows]


def dedupe(docs: Iterable[Doc]) -> list[Doc]:
    """Last one wins per id (a game seen in two partitions), in a stable order."""
    by_id: dict[str, Doc] = {}
    for doc in docs:
        by_id[doc.id] = doc
    return [by_id[k] for k in sorted(by_id)]
