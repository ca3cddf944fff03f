"""Aggregating the dense ensemble. Default: weighted concatenation — ``√wᵢ · vᵢ`` side by
side, normalized — so the dot product of two ensemble vectors is ``Σ wᵢ cosᵢ / Σ wᵢ``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Aggregation = Literal["weighted_concat", "weighted_mean"]


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def aggregate(per_model: Sequence[np.ndarray], weights: Sequence[float], method: Aggregation = "weighted_concat") -> np.ndarray:
    if not per_model:
        raise ValueError("at least one model's vectors are needed")
    normed = [l2_normalize(v) for v in per_model]
    if method == "weighted_concat":
        out = np.concatenate([np.sqrt(w) * v for v, w in zip(normed, weights)], axis=1)
    elif method == "weighted_mean":
        dims = {v.shape[1] for v in normed}
        if len(dims) != 1:
            raise ValueError(f"weighted_mean needs models of one dimension, got {sorted(dims)}")
        out = sum(w * v for v, w in zip(normed, weights))  # type: ignore[assignment]
    else:  # pragma: no cover - guarded by the Literal
        raise ValueError(f"unknown aggregation {method!r}")
    return l2_normalize(out)


def ensemble_dim(dims: Sequence[int], method: Aggregation) -> int:
    return sum(dims) if method == "weighted_concat" else dims[0]
