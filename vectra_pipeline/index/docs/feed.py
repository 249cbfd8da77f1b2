"""Short documents from one raw file each: chat messages (ws_event) and the capture daemon's system
events. One document per item, however often the feed repeated it. Trades and side bets are one
document per game and player (player_games.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.docs.common import Doc, compact, json_text, short_hash, source_key

SHORT_DOC_EVENTS = ("newChatMessage",)


def short_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    """The chat messages of one raw ws_event file."""
    rows = con.execute(
        f"""SELECT event_name, game_id, player_id, username, strftime(ts, '%Y-%m-%d') AS date,
                   strftime(ts, '%Y-%m-%d %H:%M:%S') AS at, raw_json
            FROM read_parquet(?, union_by_name=true)
            WHERE event_name IN ({", ".join("?" * len(SHORT_DOC_EVENTS))})
            ORDER BY ts, session_id, seq""",
        [str(file), *SHORT_DOC_EVENTS],
    ).fetchall()
    source = source_key(paths, file)
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


def _player_label(item: dict, username: str | None, player_id: str | None) -> str:
    name = item.get("username") or username
    pid = item.get("playerId") or player_id
    return f"{name} ({pid})" if name else f"anonymous player {pid}"


def _short_doc(event_name: str, item: dict, game_id: str | None, player_id: str | None, username: str | None,
               date: str, at: str, source: str) -> Doc:
    gid = item.get("gameId") or game_id
    pid = item.get("playerId") or player_id
    who = _player_label(item, username, player_id)
    text = f"Chat message from {who} (level {item.get('level')}) at {at} UTC: {item.get('message')}"
    key = short_hash(f"{pid}|{item.get('timestamp')}|{item.get('message')}")
    name = item.get("username") or username or "an anonymous player"
    return Doc(id=f"chat:{key}", text=text, kind="chat", source_file=source, event_name=event_name,
               game_id=gid, player_id=pid, date=date,
               embed_text=f"Chat message from {name} (level {item.get('level')}): {item.get('message')}")


def system_docs_for_file(paths: DataPaths, con: Any, file: Path) -> list[Doc]:
    rows = con.execute(
        """SELECT event_name, session_id, seq, strftime(ts, '%Y-%m-%d'), strftime(ts, '%Y-%m-%d %H:%M:%S'), raw_json
           FROM read_parquet(?, union_by_name=true) ORDER BY ts, session_id, seq""",
        [str(file)],
    ).fetchall()
    source = source_key(paths, file)
    docs = []
    for event_name, session_id, seq, date, at, raw in rows:
        try:
            details = json_text(compact(json.loads(raw)))
        except json.JSONDecodeError:
            details = raw[:300]
        text = f"System event {event_name} of the capture daemon at {at} UTC (session {session_id}): {details}"
        docs.append(Doc(id=f"system:{session_id}:{seq}", text=text, kind="system_event", source_file=source,
                        event_name=event_name, date=date))
    return docs
