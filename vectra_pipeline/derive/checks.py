"""The data checks behind the Dagster asset checks (plain functions, so the CLI and tests use them too):
key uniqueness, seed verification, reconciliation raw -> typed, schema drift raw -> models, and the
freshness of the capture's raw data. The data checks take the DuckDB connection they query (the Dagster resource's in a run, `duck.connect()` elsewhere)."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from vectra_capture.protocol.models import MODELS, NESTED_MODELS, known_fields, payload_of, validate_payload
from vectra_capture.status import read_status
from vectra_capture.store.layout import DataPaths
from vectra_pipeline.derive.common import files, invalid_rows, raw_scan
from vectra_pipeline.derive.schema_manifest import Outcome
from vectra_pipeline.derive.schemas import KEYS
from vectra_pipeline.duck import PAYLOAD_PATH, sql_list

# Raw events deliberately not typed (kept in raw, searchable through the vector index).
NOT_TYPED = (
    "newChatMessage", "gameNotification", "rugRoyaleUpdate", "battleEventUpdate", "goldenHourUpdate",
    "usernameStatus", "playerLeaderboardPosition", "ping", "authenticate", "chatHistory", "getLeaderboard",
    "__ack__", "legacy.game_start", "legacy.game_end", "legacy.game_complete", "legacy.session_start",
    "legacy.session_end", "legacy.metadata",
)
TYPED_EVENTS = ("gameStateUpdate", "legacy.tick", "standard/newTrade", "newSideBet", "currentSidebet",
                "currentSidebetResult", "buyOrder", "sellOrder", "requestSidebet", "playerUpdate",
                "gameStatePlayerUpdate")


def _scan(paths: DataPaths, doc_type: str, columns: str) -> str | None:
    fs = sorted(str(p) for p in paths.doc_type_dir(doc_type).glob("date=*/*.parquet"))
    return f"(SELECT {columns} FROM read_parquet({sql_list(fs)}, union_by_name = true))" if fs else None


def raw_dates(paths: DataPaths, window: int | None = None) -> list[str]:
    dates = sorted(p.name.split("=", 1)[1] for p in paths.doc_type_dir("ws_event").glob("date=*") if p.is_dir())
    return dates[-window:] if window else dates


def key_unique(con: duckdb.DuckDBPyConnection, paths: DataPaths, table: str) -> Outcome:
    key = KEYS[table]
    scan = _scan(paths, table, ", ".join(key))
    if scan is None:
        return Outcome(True, f"{table}: no partitions yet", {"rows": 0})
    cols = ", ".join(key)
    rows, dup_keys, dup_rows = con.execute(f"""
        SELECT (SELECT count(*) FROM {scan}), count(*), coalesce(sum(n), 0)
        FROM (SELECT {cols}, count(*) AS n FROM {scan} GROUP BY ALL HAVING count(*) > 1)""").fetchall()[0]
    examples = con.execute(f"SELECT {cols}, count(*) n FROM {scan} GROUP BY ALL HAVING n > 1 LIMIT 5").fetchall()
    details = {"rows": rows, "key": list(key), "duplicate_keys": dup_keys, "rows_with_duplicate_keys": int(dup_rows),
               "examples": [str(e) for e in examples]}
    return Outcome(dup_keys == 0, f"{table}: {dup_keys} duplicate keys over {rows} rows", details)


def seeds_verified(con: duckdb.DuckDBPyConnection, paths: DataPaths) -> Outcome:
    """Every complete_game row has seed_verified, and the stored flag matches a fresh sha256."""
    scan = _scan(paths, "complete_game", "game_id, server_seed, server_seed_hash, seed_verified")
    if scan is None:
        return Outcome(True, "complete_game: no partitions yet", {"games": 0})
    rows = con.execute(f"SELECT * FROM {scan}").fetchall()
    unverified, wrong_flag = [], []
    for game_id, seed, seed_hash, flag in rows:
        ok = seed is not None and seed_hash is not None and hashlib.sha256(seed.encode()).hexdigest() == seed_hash.lower()
        if not ok:
            unverified.append(game_id)
        if bool(flag) != ok:
            wrong_flag.append(game_id)
    details = {"games": len(rows), "unverified": len(unverified), "flag_mismatch": len(wrong_flag),
               "examples": unverified[:10]}
    passed = not unverified and not wrong_flag
    return Outcome(passed, f"{len(rows) - len(unverified)}/{len(rows)} games verified", details)


def _missing_explained(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str]]) -> tuple[int, int, list]:
    """Validate raw rows missing from their typed table: (model failures, unexplained, examples)."""
    failures, unexplained, examples = 0, 0, []
    for name, text in rows:
        try:
            ok, _reason = validate_payload(name, payload_of(name, text))
        except ValueError:
            ok = False
        if ok:
            unexplained += 1
            examples.append(text[:160])
        else:
            failures += 1
    return failures, unexplained, examples[:5]


def _reconcile_date(con: duckdb.DuckDBPyConnection, raw: str, t: dict[str, str]) -> tuple[int, int, list]:
    """(model failures, raw rows missing from their typed table, examples) for one date's raw scan."""
    missing = con.execute(f"""
      WITH k AS (
        SELECT event_name, raw_json, json_extract_string(raw_json, ['$.game_id', '$.tick', '$.cooldown_timer',
               '$.rugged', '$.active']) v FROM {raw} WHERE event_name = 'legacy.tick'
        UNION ALL
        SELECT event_name, raw_json, json_extract_string(raw_json, ['$[#-1].gameId', '$[#-1].tickCount',
               '$[#-1].cooldownTimer', '$[#-1].rugged', '$[#-1].active']) v
        FROM {raw} WHERE event_name = 'gameStateUpdate'
      ), kk AS (
        SELECT event_name, raw_json, v[1] AS game_id,
               CASE WHEN coalesce(TRY_CAST(v[3] AS BIGINT), 0) > 0
                         AND NOT coalesce(TRY_CAST(v[4] AS BOOLEAN), false)
                         AND NOT coalesce(TRY_CAST(v[5] AS BOOLEAN), false)
                    THEN NULL ELSE TRY_CAST(v[2] AS BIGINT) END AS tick,
               TRY_CAST(v[3] AS BIGINT) AS cooldown_timer, coalesce(TRY_CAST(v[4] AS BOOLEAN), false) AS rugged
        FROM k
      )
      SELECT event_name, raw_json FROM kk
      WHERE NOT EXISTS (SELECT 1 FROM {t['game_tick']} g WHERE g.game_id IS NOT DISTINCT FROM kk.game_id
            AND g.tick IS NOT DISTINCT FROM kk.tick AND g.cooldown_timer IS NOT DISTINCT FROM kk.cooldown_timer
            AND g.rugged = kk.rugged)
      UNION ALL
      SELECT event_name, raw_json FROM {raw}
      WHERE event_name = 'standard/newTrade' AND coalesce(json_extract_string(raw_json, '$[#-1].id'), '')
            NOT IN (SELECT action_id FROM {t['player_action']} WHERE action_kind = 'trade')
      UNION ALL
      SELECT event_name, raw_json FROM {raw}
      WHERE event_name = 'playerUpdate' AND coalesce(json_extract_string(raw_json, '$[#-1].id'), '')
            NOT IN (SELECT player_id FROM {t['server_state']} WHERE state_source = 'playerUpdate')
    """).fetchall()
    failures, unexplained, examples = _missing_explained(con, missing)
    (hist_missing,) = con.execute(f"""
      SELECT count(*) FROM (SELECT unnest(json_extract_string(raw_json, '$[#-1].gameHistory[*].id')) AS id
                            FROM {raw} WHERE event_name = 'gameStateUpdate' AND contains(raw_json, '"gameHistory"'))
      WHERE id NOT IN (SELECT game_id FROM {t['complete_game']})""").fetchall()[0]
    return failures, unexplained + hist_missing, examples


def reconcile(con: duckdb.DuckDBPyConnection, paths: DataPaths, dates: list[str] | None = None) -> Outcome:
    """Every raw row of `dates` is in a typed table (by natural key), deliberately not typed, or fails its model."""
    dates = dates if dates is not None else raw_dates(paths, 3)
    typed = {t: _scan(paths, t, ", ".join(KEYS[t]) + (", state_source" if t == "server_state" else ""))
             for t in ("game_tick", "player_action", "complete_game", "server_state")}
    empty = {"game_tick": "(SELECT NULL game_id, NULL::BIGINT tick, NULL::BIGINT cooldown_timer, NULL::BOOLEAN rugged WHERE false)",
             "player_action": "(SELECT NULL action_kind, NULL action_id WHERE false)",
             "complete_game": "(SELECT NULL game_id WHERE false)",
             "server_state": "(SELECT NULL state_source, NULL player_id, NULL game_id, NULL state_key WHERE false)"}
    t = {k: v or empty[k] for k, v in typed.items()}
    per_event: Counter[str] = Counter()
    failures = unexplained = 0
    examples: list = []
    not_derived = []
    for date in dates:
        if not files(paths, "ws_event", date):
            continue
        if not all(files(paths, t, date) for t in ("game_tick", "player_action", "server_state", "complete_game")):
            not_derived.append(date)  # its typed partitions are not built yet: nothing to reconcile
            continue
        for name, n in con.execute(f"SELECT event_name, count(*) FROM {raw_scan(paths, date)} GROUP BY 1").fetchall():
            per_event[name] += n
        try:
            f, u, ex = _reconcile_date(con, raw_scan(paths, date), t)
        except duckdb.InvalidInputException:  # rows that are not JSON: each one is a model failure
            (invalid,) = con.execute(f"SELECT count(*) FROM {invalid_rows(paths, date)}").fetchall()[0]
            f, u, ex = _reconcile_date(con, raw_scan(paths, date, valid_only=True), t)
            f += invalid
        failures, unexplained, examples = failures + f, unexplained + u, examples + ex
    unlisted = {e: n for e, n in per_event.items() if e not in TYPED_EVENTS and e not in NOT_TYPED}
    details = {"dates": [d for d in dates if d not in not_derived], "not_derived_yet": not_derived, "raw_rows": sum(per_event.values()), "per_event": dict(per_event),
               "not_typed": {e: n for e, n in per_event.items() if e in NOT_TYPED}, "model_failures": failures,
               "missing_from_typed": unexplained, "unlisted_events": unlisted, "examples": examples[:5]}
    passed = unexplained == 0 and not unlisted
    return Outcome(passed, f"{unexplained} raw rows unaccounted for, {len(unlisted)} unlisted event names, "
                           f"{failures} model failures", details)


def schema_drift(con: duckdb.DuckDBPyConnection, paths: DataPaths, dates: list[str] | None = None) -> Outcome:
    """Payload fields no model knows (top level; first leaderboard and gameHistory entry), with counts and
    first seen. Array payloads (chat, notifications) have no keys to compare."""
    dates = dates if dates is not None else raw_dates(paths, 2)
    found: dict[tuple[str, str], list] = {}
    unknown_events: dict[str, int] = {}
    for date in dates:
        if not files(paths, "ws_event", date):
            continue
        # One parse per row, streamed into a small aggregate: top-level keys, and the keys of the first
        # leaderboard / gameHistory entry (entries of one list share their shape).
        q = """
          WITH k AS (
            SELECT ts, event_name,
                   CASE WHEN event_name LIKE 'legacy.%' THEN [json_keys(raw_json), NULL, NULL]
                        ELSE json_keys(raw_json, ['{PAYLOAD_PATH}', '{PAYLOAD_PATH}.leaderboard[0]', '{PAYLOAD_PATH}.gameHistory[0]']) END AS ks
            FROM {raw}
          ), keys AS (
            SELECT event_name AS what, ts, unnest(ks[1]) AS k FROM k
            UNION ALL
            SELECT 'gameStateUpdate.leaderboard', ts, unnest(ks[2]) FROM k WHERE event_name = 'gameStateUpdate'
            UNION ALL
            SELECT 'gameStateUpdate.gameHistory', ts, unnest(ks[3]) FROM k WHERE event_name = 'gameStateUpdate'
          )
          SELECT what, k, count(*), min(ts) FROM keys GROUP BY 1, 2"""
        try:
            rows = con.execute(q.format(raw=raw_scan(paths, date), PAYLOAD_PATH=PAYLOAD_PATH)).fetchall()
        except duckdb.InvalidInputException:  # rows that are not JSON: reconciliation counts them
            rows = con.execute(q.format(raw=raw_scan(paths, date, valid_only=True), PAYLOAD_PATH=PAYLOAD_PATH)).fetchall()
        for what, k, n, first in rows:
            if "." in what and what.split(".", 1)[0] == "gameStateUpdate":
                model = NESTED_MODELS[("gameStateUpdate", what.split(".", 1)[1])]
            else:
                model = MODELS.get(what)
                if model is None:
                    unknown_events[what] = unknown_events.get(what, 0) + n
                    continue
            if k in known_fields(model) or not known_fields(model):
                continue
            prev = found.get((what, k))
            found[(what, k)] = [n + (prev[0] if prev else 0), min(first, prev[1]) if prev else first]
    fields = [{"event": w, "field": k, "count": n, "first_seen": str(t)} for (w, k), (n, t) in sorted(found.items())]
    details = {"dates": dates, "unknown_fields": fields[:50], "unknown_field_count": len(fields),
               "events_without_model": unknown_events}
    passed = not fields and not unknown_events
    return Outcome(passed, f"{len(fields)} unknown fields, {len(unknown_events)} events without a model", details)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds") if ts else None


def _newest_session_file(paths: DataPaths, session_id: str | None, dates: int = 2) -> Path | None:
    """The newest ws_event Parquet file of the capture session (the daemon names its files
    `<session_id>_<first seq>-<last seq>.parquet`), in the most recent `dates` partitions."""
    parts = sorted(paths.doc_type_dir("ws_event").glob("date=*"))[-dates:]
    pattern = f"{session_id}_*.parquet" if session_id else "*.parquet"
    found = [f for part in parts for f in part.glob(pattern)]
    return max(found, key=lambda f: f.stat().st_mtime, default=None)


def raw_freshness(paths: DataPaths, max_age_seconds: float, now: float | None = None) -> Outcome:
    """Has the capture daemon landed raw ws_event Parquet within `max_age_seconds`?

    A daemon is expected when its lock is held (running) or when its last status has no `stopped_at`
    (a clean stop writes one, so without it the daemon died). Otherwise there is nothing to be fresh about and the check
    passes saying so. The age counts from the newest file of the daemon's session or from its start,
    whichever is later, so a daemon that just started is not red before its first spool roll."""
    now = time.time() if now is None else now
    status = read_status(paths)
    running = bool(status.get("running"))
    left_behind = not running and paths.capture_status.exists() and not status.get("stopped_at")
    details: dict = {"daemon_running": running, "daemon_state": status.get("state"),
                     "max_age_minutes": round(max_age_seconds / 60, 1)}
    if not running and not left_behind:
        return Outcome(True, "no capture daemon expected (none running, none stopped uncleanly): "
                             "raw freshness not required", details)
    session_id = status.get("session_id")
    newest = _newest_session_file(paths, session_id)
    landed = newest.stat().st_mtime if newest else None
    started = datetime.fromisoformat(status["started_at"]).timestamp() if status.get("started_at") else None
    since = max(landed or 0.0, started or 0.0) or None
    age = now - since if since else None
    details.update({"session_id": session_id, "last_landed": _iso(landed), "daemon_started": _iso(started),
                    "last_file": newest.name if newest else None,
                    "age_minutes": round(age / 60, 1) if age is not None else None})
    if age is not None and age <= max_age_seconds:
        return Outcome(True, f"raw data landed {age / 60:.0f} min ago (limit {max_age_seconds / 60:.0f} min)", details)
    quiet = f"for {age / 60:.0f} min" if age is not None else "yet"
    if running:
        return Outcome(False, f"the capture daemon is running but has landed no raw Parquet {quiet} "
                              f"(limit {max_age_seconds / 60:.0f} min): feed silent or daemon stuck", details)
    return Outcome(False, f"the capture daemon is not running and did not stop cleanly (its last status "
                          f"in run/ has no stopped_at); no raw data landed {quiet}: restart `vectra capture`", details)
