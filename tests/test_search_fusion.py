"""search.rrf_fuse gives what LanceDB's own hybrid fusion (its RRFReranker, through the real
`_combine_hybrid_results` its hybrid query runs) gives on the same two legs: same rows, same order,
ties included, and the same scores. Legs made to collide: shared rows at every position, equal
ranks in both legs (equal scores), one or both legs empty, limits below and above the union.
And a table without a full-text index: search() answers with the vector leg alone, a bad filter
still raises InvalidFilter."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from lancedb.query import LanceHybridQueryBuilder
from lancedb.rerankers import RRFReranker

from vectra_capture.store.layout import DataPaths
from vectra_pipeline.index.embedder import get_embedder
from vectra_pipeline.index.errors import InvalidFilter
from vectra_pipeline.index.search import RESULT_COLUMNS, RRF_K, rrf_fuse, search
from vectra_pipeline.index.tables import connect, table_schema


def leg(rowids: list[int], score_column: str) -> pa.Table:
    """A leg as LanceDB returns it: the result columns, its score and `_rowid`, best first."""
    n = len(rowids)
    cols = {c: pa.array([f"{c}-{r}" for r in rowids], pa.string()) for c in RESULT_COLUMNS}
    scores = [0.1 * (i + 1) for i in range(n)] if score_column == "_distance" else [10.0 - i for i in range(n)]
    cols[score_column] = pa.array(scores, pa.float32())
    cols["_rowid"] = pa.array(rowids, pa.uint64())
    return pa.table(cols)


def lancedb_fused(nearest: list[int], matched: list[int], limit: int) -> list[dict]:
    table = LanceHybridQueryBuilder._combine_hybrid_results(
        fts_results=leg(matched, "_score"), vector_results=leg(nearest, "_distance"), norm="score",
        fts_query="q", reranker=RRFReranker(), limit=limit, with_row_ids=True)
    return [{"score": round(float(r["_relevance_score"]), 6), **{c: r[c] for c in RESULT_COLUMNS}}
            for r in table.to_pylist()]


CASES = [
    ([1, 2, 3], [4, 5, 6], 10),  # disjoint: vector rank i ties text rank i, vector first
    ([1, 2, 3], [4, 5, 6], 3),
    ([1, 2, 3], [1, 2, 3], 10),  # the same rows in the same order
    ([1, 2, 3], [3, 2, 1], 10),  # reversed: all three tie
    ([7, 8, 9, 10], [10, 11, 7], 5),
    ([], [4, 5], 10),
    ([1, 2], [], 10),
    ([], [], 10),
]


@pytest.mark.parametrize(("nearest", "matched", "limit"), CASES)
def test_fusion_equals_lancedb_rrf(nearest: list[int], matched: list[int], limit: int) -> None:
    assert RRFReranker().K == RRF_K
    ours = rrf_fuse(leg(nearest, "_distance").to_pylist(), leg(matched, "_score").to_pylist(), limit)
    assert ours == lancedb_fused(nearest, matched, limit)
    assert len(ours) == min(limit, len(set(nearest) | set(matched)))


def test_fusion_equals_lancedb_rrf_on_random_overlapping_legs() -> None:
    rng = random.Random(13)
    for _ in range(300):
        pool = list(range(rng.randint(1, 40)))
        nearest = rng.sample(pool, rng.randint(0, min(20, len(pool))))
        matched = rng.sample(pool, rng.randint(0, min(20, len(pool))))
        limit = rng.randint(1, 25)
        ours = rrf_fuse(leg(nearest, "_distance").to_pylist(), leg(matched, "_score").to_pylist(), limit)
        assert ours == lancedb_fused(nearest, matched, limit), (nearest, matched, limit)


def test_without_a_full_text_index_the_vector_leg_answers(tmp_path) -> None:
    paths = DataPaths.resolve(tmp_path)
    embedder = get_embedder()
    texts = ["a buy trade of 0.5 SOL", "chat message about the rug", "game peaked at 3x then rugged"]
    schema = table_schema(embedder)
    rows = [{"id": f"d{i}", "text": t, "vector": v.tolist(), "kind": ["trade", "chat", "game"][i],
             "text_hash": "x"} for i, (t, v) in enumerate(zip(texts, embedder.embed(texts), strict=True))]
    tbl = connect(paths).create_table("events", data=pa.Table.from_pylist(rows, schema=schema), schema=schema)
    found = search("when did the game rug", limit=2, paths=paths, embedder=embedder)
    plain = tbl.search(embedder.embed(["when did the game rug"])[0], vector_column_name="vector").limit(2).to_list()
    assert [(r["id"], r["score"]) for r in found] == [(r["id"], round(1.0 - r["_distance"], 6)) for r in plain]
    assert len(found) == 2  # scored 1 - distance, as a plain vector search
    assert [r["id"] for r in search("a trade", where="kind = 'trade'", paths=paths, embedder=embedder)] == ["d0"]
    with pytest.raises(InvalidFilter):
        search("a trade", where="kind = = 'trade'", paths=paths, embedder=embedder)
