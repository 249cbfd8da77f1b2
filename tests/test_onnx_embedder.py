"""The ONNX Runtime embedder against the torch (sentence-transformers) one, both real: the same vectors on
real fixture-derived documents, the same top-3 answers to the eval questions over tables torch built,
and an exported model that is cached, reused and re-exported when the cache file is corrupt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_vectors_index import NOTE, _questions, write_games_table
from vectors_helpers import write_fixture_raw

from vectra_capture.store.layout import DataPaths
from vectra_capture.store.notes import write_debug_note
from vectra_pipeline.index import onnx_embedder
from vectra_pipeline.index.build import build
from vectra_pipeline.index.embedder import TORCH_MINILM, SentenceTransformerEmbedder, get_embedder
from vectra_pipeline.index.onnx_embedder import OnnxEmbedder, load_session, onnx_path
from vectra_pipeline.index.search import search
from vectra_pipeline.index.sources import docs_for, source_files
from vectra_pipeline.index.tables import TABLES, open_table


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    embedder = get_embedder(TORCH_MINILM)
    assert isinstance(embedder, SentenceTransformerEmbedder) and not isinstance(embedder, OnnxEmbedder)
    return embedder


@pytest.fixture(scope="module")
def torch_built(tmp_path_factory: pytest.TempPathFactory, torch_embedder: SentenceTransformerEmbedder) -> DataPaths:
    """All three tables built by the torch embedder, as tables built before the ONNX embedder were."""
    paths = DataPaths.resolve(tmp_path_factory.mktemp("onnx_data"))
    write_fixture_raw(paths)
    write_games_table(paths)
    write_debug_note(paths, NOTE)
    results = build(paths, full=True, embedder=torch_embedder)
    assert all(r.embedded > 0 for r in results)
    return paths


def test_onnx_is_the_default_with_the_torch_model_identity(torch_embedder: SentenceTransformerEmbedder) -> None:
    onnx = get_embedder()
    assert isinstance(onnx, OnnxEmbedder)
    assert (onnx.name, onnx.dim, onnx.max_tokens, onnx.path) == (
        torch_embedder.name, torch_embedder.dim, torch_embedder.max_tokens, torch_embedder.path)
    assert onnx.lancedb_function() == torch_embedder.lancedb_function()  # plain lancedb still embeds with torch


def test_embedders_share_one_loaded_tokenizer_and_session() -> None:
    """get_embedder() makes a new embedder per call (every service-layer search): the tokenizer and the
    ONNX session are loaded once per process, not per embedder, and stay truncating at the window."""
    first, second = get_embedder(), get_embedder()
    assert first is not second
    assert first.tokenizer is second.tokenizer and first.session is second.session
    long_text = " ".join(["word"] * 1000)
    assert len(second.tokenizer.encode(long_text).ids) == first.max_tokens
    assert np.allclose(first.embed(["side bet payout"]), second.embed(["side bet payout"]))


def test_vectors_match_torch_on_fixture_documents(torch_built: DataPaths,
                                                  torch_embedder: SentenceTransformerEmbedder) -> None:
    texts = [t for table in TABLES for t in open_table(torch_built, table).to_arrow()["text"].to_pylist()]
    embedded = _embedded_event_texts(torch_built)
    texts += sorted(set(embedded.values()) - set(texts))  # trades and chat are embedded without their ids
    texts += ["", "a", "x " * 400]  # empty, one word-piece, over the 256 window (truncated the same way)
    assert len(texts) > 60
    onnx = get_embedder().embed(texts)
    ref = torch_embedder.embed(texts)
    assert onnx.shape == ref.shape == (len(texts), 384) and onnx.dtype == np.float32
    cosine = (onnx * ref).sum(axis=1) / (np.linalg.norm(onnx, axis=1) * np.linalg.norm(ref, axis=1))
    assert cosine.min() >= 0.9999, (cosine.min(), texts[int(cosine.argmin())][:80])
    # order does not matter: each text gets its own vector whatever the batch around it
    assert np.allclose(get_embedder().embed(texts[::-1])[::-1], onnx, atol=1e-5)
    # and the table's stored (torch) vectors are what ONNX gives for the same texts (the embedded ones)
    rows = open_table(torch_built, "events").to_arrow()
    stored = np.array(rows["vector"].to_pylist(), dtype=np.float32)
    events = [embedded[i] for i in rows["id"].to_pylist()]
    differ = zip(events, rows["text"].to_pylist(), rows["kind"].to_pylist(), strict=True)
    assert {kind for e, t, kind in differ if e != t} == {"trade", "chat"}
    assert (get_embedder().embed(events) * stored).sum(axis=1).min() >= 0.9999


def _embedded_event_texts(paths: DataPaths) -> dict[str, str]:
    """id -> the text the build embedded for each document of the events table (its embed_text, if any)."""
    files = source_files(paths, "events")
    trim = get_embedder().trim
    return {d.id: trim(d.embed_text or d.text) for d in docs_for(paths, "events", files.keys(), files, True).docs}


def test_eval_questions_keep_their_top3(torch_built: DataPaths, torch_embedder: SentenceTransformerEmbedder) -> None:
    onnx = get_embedder()
    changed = []
    for question, table, _expect in _questions():
        with_torch = [r["id"] for r in search(question, table=table, limit=3, paths=torch_built, embedder=torch_embedder)]
        with_onnx = [r["id"] for r in search(question, table=table, limit=3, paths=torch_built, embedder=onnx)]
        if with_onnx != with_torch:
            changed.append((question, with_torch, with_onnx))
    assert not changed


def test_export_is_cached_reused_and_redone_when_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(onnx_embedder.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(onnx_embedder, "_SESSIONS", {})  # a fresh process as far as sessions go
    exports: list[Path] = []
    real_export = onnx_embedder.export_onnx

    def counting_export(model_path: str, target: Path, max_tokens: int = 256) -> Path:
        exports.append(target)
        return real_export(model_path, target, max_tokens)

    monkeypatch.setattr(onnx_embedder, "export_onnx", counting_export)
    embedder = OnnxEmbedder()
    cached = onnx_path(embedder.path)
    assert cached.is_relative_to(tmp_path / "cache") and not cached.exists()
    first = embedder.embed(["why are prices decimals?"])
    assert exports == [cached] and cached.stat().st_size > 10_000_000
    assert not [p for p in cached.parent.iterdir() if p != cached]  # no temp file left behind

    monkeypatch.setattr(onnx_embedder, "_SESSIONS", {})
    stamp = cached.stat().st_mtime_ns
    load_session(embedder.path)
    assert exports == [cached] and cached.stat().st_mtime_ns == stamp  # reused, not exported again

    cached.write_bytes(cached.read_bytes()[: 1_000_000])  # a half-written file from a crash elsewhere
    monkeypatch.setattr(onnx_embedder, "_SESSIONS", {})
    again = OnnxEmbedder().embed(["why are prices decimals?"])
    assert exports == [cached, cached] and cached.stat().st_size > 10_000_000
    assert np.allclose(again, first, atol=1e-6)
