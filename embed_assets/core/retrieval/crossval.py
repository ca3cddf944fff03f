"""Choosing a hybrid by k-fold cross-validation over queries.

The candidates are every combination of the measured levers: chunk aggregation (``max``,
``mean2``), lexical scope (``chunk``, ``document``), and fusion — convex with ``minmax``
or ``dbsf`` normalization over a weight grid, or weighted RRF over a weight grid and a
few k. Queries are split into k folds (a seeded permutation of the sorted query ids).
For each fold, the candidate with the best mean nDCG@10 on the other folds is chosen
(the first in grid order on ties) and measured on the held-out fold, beside the previous
default and the best single retriever (also chosen on the other folds). The held-out
means are the estimate to report; the candidate chosen on all queries is what a product
default would be, and its figure on those same queries is optimistic by construction.

Scores are (queries × documents) matrices: meant for labelled sets, not whole corpora
with thousands of queries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from pydantic import BaseModel

from .hybrid import FusionParts, FusionSpec, member_key, runs
from .metrics import NdcgAt10

AGGREGATIONS = ("max", "mean2")
RRF_KS = (5, 20, 60)
CONVEX_STEPS = {"minmax": 20, "dbsf": 10}  # weights are multiples of 1/steps
RRF_STEPS = 10


class FoldResult(BaseModel):
    fold: int
    queries: int
    chosen: FusionSpec
    chosen_train: float
    chosen_ndcg: float
    previous_ndcg: float
    single: str
    single_ndcg: float


class LeverResult(BaseModel):
    lever: str
    candidates: int
    mean: float
    std: float
    gain: float
    folds_won: int


class CrossValidation(BaseModel):
    k: int
    seed: int
    queries: int
    candidates: int
    previous: FusionSpec
    folds: list[FoldResult]
    chosen_mean: float
    chosen_std: float
    previous_mean: float
    previous_std: float
    single_mean: float
    single_std: float
    levers: list[LeverResult]
    fitted: FusionSpec
    fitted_ndcg: float
    gain_interval: tuple[float, float]

    @property
    def gain(self) -> float:
        return self.chosen_mean - self.previous_mean

    @property
    def folds_won(self) -> int:
        return sum(f.chosen_ndcg > f.previous_ndcg for f in self.folds)

    def summary(self) -> dict[str, object]:
        """The figures for one JSON line."""
        return {"folds": self.k, "candidates": self.candidates, "chosen_mean": round(self.chosen_mean, 4),
                "chosen_std": round(self.chosen_std, 4), "previous_mean": round(self.previous_mean, 4),
                "single_mean": round(self.single_mean, 4), "gain": round(self.gain, 4), "folds_won": self.folds_won,
                "gain_interval": [round(x, 4) for x in self.gain_interval],
                "fitted": self.fitted.describe()}


def simplex(n: int, steps: int) -> list[tuple[float, ...]]:
    """Every weight vector of ``n`` non-negative multiples of 1/steps that sum to 1."""
    return [(*(c / steps for c in head), (steps - sum(head)) / steps)
            for head in itertools.product(range(steps + 1), repeat=n - 1) if sum(head) <= steps]


def lever_grid(members: Sequence[str], whole_documents: bool = True) -> list[FusionSpec]:
    """Every candidate fusion of ``members`` (two or more)."""
    scopes = ("chunk", "document") if whole_documents and "lexical" in members else ("chunk",)
    grid = []
    for aggregation in AGGREGATIONS:
        for lexical in scopes:
            base = {"members": tuple(members), "aggregation": aggregation, "lexical": lexical}
            for normalization, steps in CONVEX_STEPS.items():
                grid += [FusionSpec(method="convex", normalization=normalization, weights=dict(zip(members, w)), **base)
                         for w in simplex(len(members), steps)]
            grid += [FusionSpec(method="rrf", rrf_k=k, weights=dict(zip(members, w)), **base)
                     for k in RRF_KS for w in simplex(len(members), RRF_STEPS)]
    return grid


def lever_name(spec: FusionSpec) -> str:
    fusion = f"convex {spec.normalization}" if spec.method == "convex" else "weighted rrf"
    return f"{fusion}; chunks: {spec.aggregation}; lexical: {spec.lexical}"


def assign_folds(n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    if not 2 <= k <= n:
        raise ValueError(f"need 2 <= folds <= queries, got {k} folds for {n} queries")
    return [np.sort(f) for f in np.array_split(np.random.default_rng(seed).permutation(n), k)]


def ndcg_table(parts: FusionParts, specs: Sequence[FusionSpec], docs: np.ndarray, ids: Sequence[str],
               qrels: Mapping[str, Mapping[str, int]]) -> np.ndarray:
    """nDCG@10 of every spec (rows) on every query (columns), from the runs cut at 10 (all nDCG@10 needs)."""
    table = np.zeros((len(specs), len(ids)))
    ndcg = NdcgAt10(qrels)
    for row, spec in enumerate(specs):
        scores = parts.fuse(spec) if len(spec.members) > 1 else parts.matrices[member_key(spec.members[0])]
        figures = ndcg(dict(zip(ids, runs(scores, docs, 10))))
        table[row] = [figures.get(q, 0.0) for q in ids]
    return table


def _best(table: np.ndarray, rows: Sequence[int], train: np.ndarray) -> int:
    means = table[np.asarray(rows)][:, train].mean(axis=1)
    return int(rows[int(np.argmax(means))])


def _levers(table: np.ndarray, specs: Sequence[FusionSpec], folds: list[np.ndarray],
            previous: np.ndarray) -> list[LeverResult]:
    groups: dict[str, list[int]] = {"all levers (the chosen procedure)": list(range(len(specs)))}
    for row, spec in enumerate(specs):
        groups.setdefault(lever_name(spec), []).append(row)
    out = []
    for lever, rows in groups.items():
        held = []
        for fold in folds:
            train = np.setdiff1d(np.arange(table.shape[1]), fold)
            held.append(table[_best(table, rows, train), fold].mean())
        per_fold_previous = [previous[f].mean() for f in folds]
        out.append(LeverResult(lever=lever, candidates=len(rows), mean=float(np.mean(held)), std=float(np.std(held)),
                               gain=float(np.mean(held) - np.mean(per_fold_previous)),
                               folds_won=sum(h > p for h, p in zip(held, per_fold_previous))))
    return out


def bootstrap_interval(differences: np.ndarray, seed: int = 0, resamples: int = 2000) -> tuple[float, float]:
    """95% paired-bootstrap interval of the mean of per-query differences."""
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), (resamples, len(differences)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def cross_validate(matrices: Mapping[str, np.ndarray], docs: np.ndarray, ids: Sequence[str],
                   qrels: Mapping[str, Mapping[str, int]], singles: Sequence[str], previous: FusionSpec,
                   k: int = 5, seed: int = 0, whole_documents: bool = True,
                   grid: Callable[[Sequence[str], bool], list[FusionSpec]] = lever_grid) -> CrossValidation:
    """k-fold cross-validation of the lever grid over ``singles`` (the retrievers ``matrices`` hold)."""
    specs = grid(singles, whole_documents)
    parts = FusionParts(matrices)
    table = ndcg_table(parts, specs, docs, ids, qrels)
    single_specs = [FusionSpec(method="convex", members=(r,)) for r in singles]
    single_table = ndcg_table(parts, single_specs, docs, ids, qrels)
    previous_row = ndcg_table(parts, [previous], docs, ids, qrels)[0]
    folds = assign_folds(len(ids), k, seed)
    results, differences = [], []
    for i, fold in enumerate(folds, start=1):
        train = np.setdiff1d(np.arange(len(ids)), fold)
        best = _best(table, range(len(specs)), train)
        differences.append(table[best, fold] - previous_row[fold])
        single = _best(single_table, range(len(singles)), train)
        results.append(FoldResult(fold=i, queries=len(fold), chosen=specs[best], chosen_train=table[best, train].mean(),
                                  chosen_ndcg=table[best, fold].mean(), previous_ndcg=previous_row[fold].mean(),
                                  single=singles[single], single_ndcg=single_table[single, fold].mean()))
    fitted = _best(table, range(len(specs)), np.arange(len(ids)))
    stats = {name: [getattr(f, f"{name}_ndcg") for f in results] for name in ("chosen", "previous", "single")}
    return CrossValidation(
        k=k, seed=seed, queries=len(ids), candidates=len(specs), previous=previous, folds=results,
        **{f"{name}_{stat}": float(fn(values)) for name, values in stats.items()
           for stat, fn in (("mean", np.mean), ("std", np.std))},
        levers=_levers(table, specs, folds, previous_row), fitted=specs[fitted], fitted_ndcg=table[fitted].mean(),
        gain_interval=bootstrap_interval(np.concatenate(differences), seed))
