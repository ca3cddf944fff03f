"""Dense + sparse fusion.

Vector level: the dense vector scaled by √α and the L2-normalized sparse vector by
√(1-α), so one dot product of two hybrid vectors is α·dense + (1-α)·sparse (cosines).
Query time: reciprocal rank fusion (k = 60) and a convex combination of per-query
min-max-normalized scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..encode.vectors import SparseVector

RRF_K = 60


def fusion_scales(alpha: float) -> tuple[float, float]:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    return math.sqrt(alpha), math.sqrt(1.0 - alpha)


def sparse_norm(vector: SparseVector) -> float:
    return float(np.linalg.norm(np.asarray(vector.values, dtype=np.float64)))


def hybrid_parts(dense: np.ndarray, sparse: SparseVector, alpha: float) -> tuple[np.ndarray, SparseVector]:
    """The scaled dense part and the scaled, normalized sparse part of one hybrid vector."""
    d_scale, s_scale = fusion_scales(alpha)
    norm = sparse_norm(sparse)
    factor = s_scale / norm if norm > 0 else 0.0
    return (np.asarray(dense, dtype=np.float32) * d_scale,
            SparseVector(indices=list(sparse.indices), values=[v * factor for v in sparse.values]))


def sparse_dot(a: SparseVector, b: SparseVector) -> float:
    weights = dict(zip(a.indices, a.values))
    return float(sum(weights.get(i, 0.0) * v for i, v in zip(b.indices, b.values)))


def hybrid_score(q_dense: np.ndarray, q_sparse: SparseVector, d_dense: np.ndarray, d_sparse: SparseVector,
                 alpha: float) -> float:
    qd, qs = hybrid_parts(q_dense, q_sparse, alpha)
    dd, ds = hybrid_parts(d_dense, d_sparse, alpha)
    return float(np.dot(qd, dd)) + sparse_dot(qs, ds)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists; ties broken by id so the order is deterministic."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def min_max(scores: Mapping[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    span = hi - lo
    return {k: (v - lo) / span if span > 0 else 1.0 for k, v in scores.items()}


def convex_combination(score_sets: Sequence[Mapping[str, float]], weights: Sequence[float]) -> list[tuple[str, float]]:
    """Σ wᵢ · minmax(scoresᵢ); an id missing from a set scores 0 there."""
    fused: dict[str, float] = {}
    for scores, w in zip(score_sets, weights):
        for k, v in min_max(scores).items():
            fused[k] = fused.get(k, 0.0) + w * v
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
