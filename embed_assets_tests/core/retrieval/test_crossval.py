"""k-fold cross-validation of the fusion levers: folds, the grid, and held-out figures that are
measured only on queries the choice never saw."""

import numpy as np
import pytest

from embed_assets.core.retrieval.crossval import (
    CONVEX_STEPS,
    RRF_KS,
    RRF_STEPS,
    assign_folds,
    bootstrap_interval,
    cross_validate,
    lever_grid,
    simplex,
)
from embed_assets.core.retrieval.hybrid import FusionSpec, fuse_matrices, runs
from embed_assets.core.retrieval.metrics import evaluate

N_QUERIES, N_DOCS = 60, 40


def test_simplex_and_grid_sizes() -> None:
    weights = simplex(3, 20)
    assert len(weights) == 231 and len(set(weights)) == 231
    assert all(sum(w) == pytest.approx(1.0) and min(w) >= 0 for w in weights)
    assert simplex(2, 10)[0] == (0.0, 1.0) and simplex(1, 5) == [(1.0,)]
    per_scope = sum(len(simplex(3, s)) for s in CONVEX_STEPS.values()) + len(RRF_KS) * len(simplex(3, RRF_STEPS))
    assert len(lever_grid(("dense", "splade", "lexical"))) == 2 * 2 * per_scope  # aggregations x lexical scopes
    assert len(lever_grid(("dense", "lexical"), whole_documents=False)) == 2 * (
        sum(len(simplex(2, s)) for s in CONVEX_STEPS.values()) + len(RRF_KS) * len(simplex(2, RRF_STEPS)))


def test_folds_partition_the_queries() -> None:
    folds = assign_folds(103, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(103))
    assert {len(f) for f in folds} == {20, 21}
    assert all((a == b).all() for a, b in zip(folds, assign_folds(103, 5, seed=1)))
    with pytest.raises(ValueError):
        assign_folds(3, 5)


def _labelled_set(seed: int = 5) -> tuple[dict[str, np.ndarray], np.ndarray, list[str], dict[str, dict[str, int]]]:
    """Known-item queries; ``good`` ranks the relevant document high far more often than ``poor``."""
    rng = np.random.default_rng(seed)
    docs = np.array([f"d{i:03d}" for i in range(N_DOCS)])
    ids = [f"q{i:03d}" for i in range(N_QUERIES)]
    relevant = rng.integers(0, N_DOCS, N_QUERIES)
    qrels = {q: {str(docs[r]): 1} for q, r in zip(ids, relevant)}
    good, poor = rng.random((N_QUERIES, N_DOCS)), rng.random((N_QUERIES, N_DOCS))
    good[np.arange(N_QUERIES), relevant] += rng.random(N_QUERIES) * 0.9
    poor[np.arange(N_QUERIES), relevant] += rng.random(N_QUERIES) * 0.3
    matrices = {"dense": good, "lexical": poor}
    return matrices, docs, ids, qrels


def _small_grid(members, whole_documents):
    return [FusionSpec(method="convex", members=tuple(members), weights=dict(zip(members, w)))
            for w in simplex(len(members), 4)]


def test_held_out_figures_come_from_the_held_out_queries_only() -> None:
    matrices, docs, ids, qrels = _labelled_set()
    previous = FusionSpec(method="convex", members=("dense", "lexical"), weights={"dense": 0.5, "lexical": 0.5})
    cv = cross_validate(matrices, docs, ids, qrels, ["dense", "lexical"], previous, k=4, seed=2,
                        whole_documents=False, grid=_small_grid)
    assert cv.candidates == 5 and len(cv.folds) == 4 and sum(f.queries for f in cv.folds) == N_QUERIES
    folds = assign_folds(N_QUERIES, 4, seed=2)

    def ndcg(spec: FusionSpec, queries: list[str]) -> float:
        fused = fuse_matrices(matrices, spec) if len(spec.members) > 1 else matrices[spec.members[0]]
        run = dict(zip(ids, runs(fused, docs)))
        return evaluate({q: run[q] for q in queries}, {q: qrels[q] for q in queries})["ndcg@10"]

    for fold, result in zip(folds, cv.folds):
        held = [ids[i] for i in fold]
        train = [q for q in ids if q not in held]
        candidates = _small_grid(["dense", "lexical"], False)
        best = max(candidates, key=lambda s: ndcg(s, train))  # ties: the first, as the procedure does
        assert result.chosen == best
        assert result.chosen_train == pytest.approx(ndcg(best, train))
        assert result.chosen_ndcg == pytest.approx(ndcg(best, held))
        assert result.previous_ndcg == pytest.approx(ndcg(previous, held))
        assert result.single == "dense"
        assert result.single_ndcg == pytest.approx(ndcg(FusionSpec(method="convex", members=("dense",)), held))
    assert cv.chosen_mean == pytest.approx(np.mean([f.chosen_ndcg for f in cv.folds]))
    assert cv.fitted.weight("dense") > cv.fitted.weight("lexical")  # the informative retriever weighs more
    assert cv.levers[0].lever.startswith("all levers") and cv.levers[0].mean == pytest.approx(cv.chosen_mean)
    assert set(cv.summary()) >= {"chosen_mean", "previous_mean", "gain", "folds_won", "fitted"}


def test_bootstrap_interval_brackets_the_mean() -> None:
    differences = np.random.default_rng(0).normal(0.05, 0.1, 500)
    low, high = bootstrap_interval(differences)
    assert low < differences.mean() < high and low > 0
    assert bootstrap_interval(np.zeros(10)) == (0.0, 0.0)
