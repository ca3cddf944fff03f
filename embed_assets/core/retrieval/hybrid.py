"""Document scores and their fusion, as (queries × documents) matrices.

Columns are the collection's distinct document ids in ascending order, so a tie in
scores is broken the way trec_eval breaks it (by id, descending) with one stable sort.

A retriever scores chunks; a document's score aggregates its chunks' scores:
``max`` (its best chunk) or ``mean2`` (the mean of its best two chunks, or its only
one). Lexical scoring may also be done on whole documents (``lexical="document"``: BM25
over the document's text, see :mod:`.documents`). Each member of a fusion contributes
its best ``depth`` documents per query; a document outside a member's list gets 0 from
it, and the fused list is the union of the members' lists.

- ``convex``: Σ wᵢ · normᵢ(score), with per-query ``minmax`` normalization over the
  member's list, or ``dbsf`` (distribution-based: the list's mean ± 3 standard
  deviations mapped onto [0, 1], unclipped).
- ``rrf``: Σ wᵢ / (k + rankᵢ) (weights default to 1: plain reciprocal rank fusion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Aggregation = Literal["max", "mean2"]
LexicalScope = Literal["chunk", "document"]
Normalization = Literal["minmax", "dbsf"]
DEPTH = 100


class FusionSpec(BaseModel):
    """How a hybrid scores documents: members, fusion, weights and chunk aggregation."""

    model_config = ConfigDict(frozen=True)

    method: Literal["rrf", "convex"]
    members: tuple[str, ...]
    weights: dict[str, float] = Field(default_factory=dict, description="Per member; missing: 1 (rrf), 1/n (convex).")
    normalization: Normalization = "minmax"
    rrf_k: int = Field(default=60, ge=1)
    aggregation: Aggregation = Field(default="max", description="A document's score from its chunks' scores.")
    lexical: LexicalScope = Field(default="chunk", description="Lexical scores of chunks, or of whole documents.")

    def weight(self, member: str) -> float:
        return self.weights.get(member, 1.0 if self.method == "rrf" else 1.0 / len(self.members))

    def restricted(self, available: Sequence[str]) -> FusionSpec:
        """The same fusion over the members ``available`` has (dense alone when none); convex
        weights are renormalized over the members present, so scores keep their 0–1 range."""
        present = tuple(m for m in self.members if m in available) or ("dense",)
        weights = self.weights
        if self.method == "convex" and weights:
            total = sum(weights.get(m, 0.0) for m in present)
            weights = {m: weights.get(m, 0.0) / total for m in present} if total > 0 else {}
        return self.model_copy(update={"members": present, "weights": weights})

    def explain(self) -> str:
        """The score in words: ``0.59·dense + 0.41·lexical (convex, min–max; ...)``."""
        if self.method == "rrf":
            terms = " + ".join(f"{self.weight(m):g}/(k+rank {m})" for m in self.members)
            return f"{terms}, k = {self.rrf_k}"
        terms = " + ".join(f"{self.weight(m):.2f}·{m}" for m in self.members)
        return (f"{terms} (convex over {self.normalization}-normalized document scores; a document: "
                f"{'its best chunk' if self.aggregation == 'max' else 'the mean of its best two chunks'}"
                f"{', lexical over whole documents' if self.lexical == 'document' and 'lexical' in self.members else ''})")

    def describe(self) -> str:
        weights = "/".join(f"{self.weight(m):g}" for m in self.members)
        fusion = (f"convex {self.normalization}" if self.method == "convex" else f"rrf k={self.rrf_k}")
        return (f"{fusion} {'+'.join(self.members)} {weights}; chunks: {self.aggregation}; "
                f"lexical: {self.lexical}")


def member_key(member: str, aggregation: Aggregation = "max", lexical: LexicalScope = "chunk") -> str:
    """The name of a member's document-score matrix: ``dense``, ``dense@mean2``, ``lexical@document``…"""
    if member == "lexical" and lexical == "document":
        return "lexical@document"
    return member if aggregation == "max" else f"{member}@{aggregation}"


def aggregate_chunks(chunk_scores: np.ndarray, inverse: np.ndarray, n_docs: int, how: Aggregation = "max") -> np.ndarray:
    """(queries × documents) scores from (queries × chunks) scores; ``inverse[c]`` is chunk c's document."""
    order = np.argsort(inverse, kind="stable")
    scores = np.asarray(chunk_scores, dtype=np.float32)[:, order]
    groups = inverse[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    if len(starts) != n_docs:
        raise ValueError("every document needs at least one chunk")
    best = np.maximum.reduceat(scores, starts, axis=1)
    if how == "max":
        return best
    if how != "mean2":
        raise ValueError(f"unknown aggregation {how!r}: use max or mean2")
    at_best = scores == best[:, groups]
    second = np.maximum.reduceat(np.where(at_best, -np.inf, scores), starts, axis=1)
    second = np.where(np.add.reduceat(at_best, starts, axis=1) >= 2, best, second)  # two chunks share the best score
    single = np.diff(np.r_[starts, len(groups)]) == 1
    return np.where(single[None, :], best, (best + second) / 2).astype(np.float32)


def trec_order(scores: np.ndarray) -> np.ndarray:
    """Column indices per row, best first; equal scores by column descending (trec_eval's order)."""
    n = scores.shape[1]
    return n - 1 - np.argsort(-scores[:, ::-1], axis=1, kind="stable")


def top_positions(scores: np.ndarray, depth: int) -> np.ndarray:
    """The first ``depth`` columns of :func:`trec_order`; sorts only the best ``depth`` of each row
    unless a tie straddles the cut."""
    n = scores.shape[1]
    if depth >= n:
        return trec_order(scores)
    part = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    values = np.take_along_axis(scores, part, axis=1)
    if ((scores >= values.min(axis=1, keepdims=True)).sum(axis=1) != depth).any():
        return trec_order(scores)[:, :depth]
    order = np.lexsort((-part, -values), axis=1)
    return np.take_along_axis(part, order, axis=1)


def normalized(scores: np.ndarray, listed: np.ndarray, how: Normalization) -> np.ndarray:
    """Per-row normalization over the ``listed`` entries; 0 elsewhere."""
    values = np.where(listed, scores, np.nan).astype(np.float64)
    if how == "minmax":
        low, high = np.nanmin(values, axis=1, keepdims=True), np.nanmax(values, axis=1, keepdims=True)
        span = high - low
        out = np.where(span > 0, (values - low) / np.where(span > 0, span, 1.0), 1.0)
    elif how == "dbsf":
        mean, std = np.nanmean(values, axis=1, keepdims=True), np.nanstd(values, axis=1, keepdims=True)
        out = np.where(std > 0, (values - (mean - 3 * std)) / np.where(std > 0, 6 * std, 1.0), 0.5)
    else:
        raise ValueError(f"unknown normalization {how!r}: use minmax or dbsf")
    return np.where(listed, out, 0.0)


class FusionParts:
    """Each member's (unweighted) contribution to a fusion, computed once and reused by every
    fusion of the same matrices (the cross-validation grid scores thousands of them)."""

    def __init__(self, matrices: Mapping[str, np.ndarray], depth: int = DEPTH) -> None:
        self.matrices = matrices
        self.depth = depth
        self._top: dict[str, np.ndarray] = {}
        self._listed: dict[str, np.ndarray] = {}
        self._parts: dict[tuple[str, str, int], np.ndarray] = {}

    def top(self, key: str) -> np.ndarray:
        if key not in self._top:
            self._top[key] = top_positions(self.matrices[key], self.depth)
        return self._top[key]

    def listed(self, key: str) -> np.ndarray:
        if key not in self._listed:
            listed = np.zeros(self.matrices[key].shape, dtype=bool)
            np.put_along_axis(listed, self.top(key), True, axis=1)
            self._listed[key] = listed
        return self._listed[key]

    def part(self, key: str, spec: FusionSpec) -> np.ndarray:
        kind = spec.normalization if spec.method == "convex" else "rrf"
        cache_key = (key, kind, spec.rrf_k if kind == "rrf" else 0)
        if cache_key not in self._parts:
            if kind == "rrf":
                top = self.top(key)
                part = np.zeros(self.matrices[key].shape, dtype=np.float64)
                ranks = np.arange(1, top.shape[1] + 1, dtype=np.float64)
                np.put_along_axis(part, top, np.broadcast_to(1.0 / (spec.rrf_k + ranks), top.shape), axis=1)
            else:
                part = normalized(self.matrices[key], self.listed(key), spec.normalization)
            self._parts[cache_key] = part
        return self._parts[cache_key]

    def fuse(self, spec: FusionSpec) -> np.ndarray:
        """Fused (queries × documents) scores; -inf for documents in no member's list."""
        if not spec.members:
            raise ValueError("a fusion needs at least one member")
        keys = [member_key(m, spec.aggregation, spec.lexical) for m in spec.members]
        fused = sum(spec.weight(m) * self.part(k, spec) for m, k in zip(spec.members, keys))
        union = np.logical_or.reduce([self.listed(k) for k in keys])
        return np.where(union, fused, -np.inf)


def fuse_matrices(matrices: Mapping[str, np.ndarray], spec: FusionSpec, depth: int = DEPTH) -> np.ndarray:
    """Fused (queries × documents) scores; -inf for documents in no member's list."""
    return FusionParts(matrices, depth).fuse(spec)


def runs(scores: np.ndarray, docs: np.ndarray, depth: int = DEPTH) -> list[dict[str, float]]:
    """Per row, the best ``depth`` documents and their scores (documents at -inf left out)."""
    top = top_positions(scores, depth)
    values = np.take_along_axis(scores, top, axis=1).astype(np.float64).tolist()
    names = np.asarray(docs)[top].astype(str).tolist()
    return [{d: v for d, v in zip(row_names, row_values) if v > -np.inf}
            for row_names, row_values in zip(names, values)]
