"""What every document builder shares: the Doc row, stable short ids, source keys, compact JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.duck import PAYLOAD_PATH

# What the builders make: bump it whenever documents change their ids or texts (which exist, what they
# say), so a table built with the old ones fails the model check and asks for `--full` rather than mixing
# both. 1: one document per trade / side bet; 2: one per game and player, embedded without long ids
# (docs/decisions/0014).
DOCS_VERSION = 2

# source_file of the documents built over all raw ws_event files at once (protocol docs, raw games)
WS_EVENT_AGGREGATE = "events_parquet/doc_type=ws_event"


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
    # what the model embeds when it differs from `text`: the text without long ids (a player's
    # did:privy:..., a game id: ~40 word-pieces of no meaning to a semantic search). `text` keeps them:
    # it is what a search shows and what the full-text leg matches, and the filter columns hold them.
    embed_text: str | None = None

    @property
    def text_hash(self) -> str:
        both = self.text if self.embed_text is None else f"{self.text}\0{self.embed_text}"
        return hashlib.sha1(both.encode()).hexdigest()


def short_hash(text: str, n: int = 16) -> str:
    """A stable short id part for things without an id of their own (chat lines, side bets)."""
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def short_number(value: Any, digits: int = 4) -> str:
    """A float as a sentence carries it, `digits` significant digits (1.6710016566304622 -> 1.671): each
    further digit costs word-pieces and no meaning to a semantic search; SQL keeps the exact value."""
    if not isinstance(value, float):
        return str(value)
    text = f"{value:.{digits}g}"
    return text if "e" not in text else repr(value)


def source_key(paths: DataPaths, path: Path) -> str:
    """A data file's path relative to the data root: its checkpoint key and its docs' source_file."""
    return path.relative_to(paths.root).as_posix()


def json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False, default=str)


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


# The payload of a raw row as JSON: the frame's last argument, or a legacy record as a whole.
PAYLOAD_SQL = (f"CASE WHEN json_type(raw_json::JSON) = 'ARRAY' AND NOT starts_with(event_name, 'legacy.') "
               f"THEN json_extract(raw_json, '{PAYLOAD_PATH}') ELSE raw_json::JSON END")


def dedupe(docs: Iterable[Doc]) -> list[Doc]:
    """Last one wins per id (a game seen in two partitions), in a stable order."""
    by_id: dict[str, Doc] = {}
    for doc in docs:
        by_id[doc.id] = doc
    return [by_id[k] for k in sorted(by_id)]
