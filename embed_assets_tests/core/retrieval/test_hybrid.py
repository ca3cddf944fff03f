"""Document scores from chunk scores, trec_eval's order, normalizations and fusions, checked by hand
and against the per-query fusions of :mod:`embed_assets.core.retrieval.fusion`."""

import numpy as np
import pytest

from embed_assets.core.retrieval.fusion import convex_combination, min_max, reciprocal_rank_fusion
from embed_assets.core.retrieval.hybrid import (
    FusionParts,
    FusionSpec,
    aggregate_chunks,
    fuse_matrices,
    member_key,
    normalized,
    runs,
    top_positions,
    trec_order,
)
from embed_assets.core.retrieval.metrics import rank

# Chunks 0..5 of documents 0, 1, 1, 2, 2, 2 (document 1's best two chunks tie in row 1).
INVERSE = np.array([0, 1, 1, 2, 2, 2])
CHUNKS = np.array([[0.9, 0.2, 0.6, 0.1, 0.8, 0.5],
                   [0.3, 0.7, 0.7, 0.4, 0.4, 0.9]], dtype=np.float32)


def test_a_document_is_its_best_chunk_or_the_mean_of_its_best_two() -> None:
    assert aggregate_chunks(CHUNKS, INVERSE, 3, "max") == pytest.approx(np.array([[0.9, 0.6, 0.8], [0.3, 0.7, 0.9]]))
    mean2 = aggregate_chunks(CHUNKS, INVERSE, 3, "mean2")
    assert mean2 == pytest.approx(np.array([[0.9, 0.4, 0.65], [0.3, 0.7, 0.65]]))  # one chunk: itself; a tie: both
    shuffled = np.array([2, 0, 1, 2, 1, 2])  # chunks need not be grouped by document
    assert aggregate_chunks(CHUNKS, shuffled, 3, "mean2")[0] == pytest.approx([0.2, 0.7, 0.7])
    with pytest.raises(ValueError):
        aggregate_chunks(CHUNKS, INVERSE, 4)


def test_trec_order_breaks_ties_by_document_descending_and_the_cut_agrees() -> None:
    docs = np.array(["a", "b", "c", "d", "e"])
    scores = np.array([[0.5, 0.9, 0.5, 0.1, 0.5], [1.0, 1.0, 1.0, 1.0, 2.0]])
    for row, order in zip(scores, trec_order(scores)):
        assert [docs[i] for i in order] == rank(dict(zip(docs, row)))
    rng = np.random.default_rng(3)
    tied = rng.integers(0, 4, size=(50, 40)).astype(np.float32)  # ties straddle every cut
    distinct = rng.random((50, 40))
    for matrix in (tied, distinct):
        for depth in (1, 5, 39, 40, 60):
            assert (top_positions(matrix, depth) == trec_order(matrix)[:, :depth]).all()


def test_minmax_and_dbsf_by_hand() -> None:
    scores = np.array([[4.0, 2.0, 1.0, 0.0]])
    listed = np.array([[True, True, True, False]])
    assert normalized(scores, listed, "minmax")[0] == pytest.approx([1.0, 1 / 3, 0.0, 0.0])
    mean, std = 7 / 3, np.std([4.0, 2.0, 1.0])
    expected = [(v - (mean - 3 * std)) / (6 * std) for v in (4.0, 2.0, 1.0)] + [0.0]
    assert normalized(scores, listed, "dbsf")[0] == pytest.approx(expected)
    flat = normalized(np.array([[1.0, 1.0]]), np.array([[True, True]]), "dbsf")
    assert flat[0] == pytest.approx([0.5, 0.5])


def _matrices() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    docs = np.array([f"d{i:02d}" for i in range(30)])
    return docs, {"dense": rng.random((4, 30)), "lexical": np.round(rng.random((4, 30)) * 5) / 5}


def test_convex_and_rrf_equal_the_per_query_fusions_over_each_members_best_documents() -> None:
    docs, matrices = _matrices()
    depth = 8
    lists = {m: runs(s, docs, depth) for m, s in matrices.items()}
    convex = FusionSpec(method="convex", members=("dense", "lexical"), weights={"dense": 0.7, "lexical": 0.3})
    rrf = FusionSpec(method="rrf", members=("dense", "lexical"), rrf_k=10)
    for q, fused in enumerate(runs(fuse_matrices(matrices, convex, depth), docs, 100)):
        expected = dict(convex_combination([lists["dense"][q], lists["lexical"][q]], [0.7, 0.3]))
        assert fused == pytest.approx(expected)
    for q, fused in enumerate(runs(fuse_matrices(matrices, rrf, depth), docs, 100)):
        expected = dict(reciprocal_rank_fusion([rank(lists["dense"][q]), rank(lists["lexical"][q])], k=10))
        assert fused == pytest.approx(expected)
    weighted = FusionSpec(method="rrf", members=("dense", "lexical"), rrf_k=10, weights={"dense": 2.0, "lexical": 0.5})
    top = rank(lists["dense"][0])[0]
    second = runs(fuse_matrices(matrices, weighted, depth), docs, 100)[0]
    lex_rank = rank(lists["lexical"][0]).index(top) + 1 if top in lists["lexical"][0] else None
    assert second[top] == pytest.approx(2.0 / 11 + (0.5 / (10 + lex_rank) if lex_rank else 0.0))
    assert min_max(lists["dense"][0])[top] == 1.0


def test_documents_in_no_members_list_are_left_out_and_parts_are_reused() -> None:
    docs, matrices = _matrices()
    spec = FusionSpec(method="convex", members=("dense", "lexical"))
    fused = fuse_matrices(matrices, spec, depth=3)
    assert ((fused > -np.inf).sum(axis=1) <= 6).all() and ((fused > -np.inf).sum(axis=1) >= 3).all()
    assert all(len(r) == int((row > -np.inf).sum()) for r, row in zip(runs(fused, docs, 100), fused))
    parts = FusionParts(matrices, depth=3)
    assert parts.fuse(spec) == pytest.approx(fused)
    assert parts.part("dense", spec) is parts.part("dense", spec)


def test_spec_keys_weights_and_restriction() -> None:
    spec = FusionSpec(method="convex", members=("dense", "splade", "lexical"), aggregation="mean2", lexical="document")
    assert [member_key(m, spec.aggregation, spec.lexical) for m in spec.members] == [
        "dense@mean2", "splade@mean2", "lexical@document"]
    assert spec.weight("dense") == pytest.approx(1 / 3)
    assert FusionSpec(method="rrf", members=("dense",)).weight("dense") == 1.0
    assert spec.restricted(["dense", "lexical"]).members == ("dense", "lexical")
    assert spec.restricted([]).members == ("dense",)
    assert "mean2" in spec.describe() and "document" in spec.describe()
