"""search.rrf_fuse gives what LanceDB's own hybrid fusion (its RRFReranker, through the real
`_combine_hybrid_results` its hybrid query runs) gives on the same two legs: same rows, same order,
ties included, and the same scores. Legs made to collide: shared rows at every position, equal
ranks in both legs (equal scores), one or both legs empty, limits below and above the union."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from lancedb.query import LanceHybridQueryBuilder
from lancedb.rerankers import RRFReranker

from vectra_pipeline.index.search import RESULT_COLUMNS, RRF_K, rrf_fuse


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
