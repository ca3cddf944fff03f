"""Retrieval quality of a collection's vectors on a labelled set: every retriever, the
standard fusions and the product's default hybrid, with nDCG@10, MRR@10, Recall@10 and
Recall@100."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .crossval import CrossValidation, cross_validate, lever_grid
from .hybrid import DEPTH, FusionSpec, fuse_matrices, member_key, runs
from .index import RETRIEVERS, ExportIndex, document_matrices
from .metrics import evaluate
from .query import QueryEncoder

ALL = ("dense", "splade", "lexical")
# The convex combination that was the product's default before the levers were measured:
# min–max over best-chunk scores with these weights. Kept as the `convex` row for comparison.
DEFAULT_CONVEX_WEIGHTS = {"dense": 0.5, "splade": 0.25, "lexical": 0.25}
# The product's default hybrid (`search --mode hybrid`, the quality gate's `hybrid` mode), chosen by
# 5-fold cross-validation on data/eval/python-docstrings (docs/retrieval-quality.md): the mean of a
# document's best two chunks for dense and SPLADE, BM25 over whole documents, min–max convex weights.
DEFAULT_FUSION = FusionSpec(method="convex", members=ALL, weights={"dense": 0.5, "splade": 0.15, "lexical": 0.35},
                            aggregation="mean2", lexical="document")
FUSIONS: dict[str, FusionSpec] = {
    "rrf_dense_splade": FusionSpec(method="rrf", members=("dense", "splade")),
    "rrf_dense_lexical": FusionSpec(method="rrf", members=("dense", "lexical")),
    "rrf_all": FusionSpec(method="rrf", members=ALL),
    "convex": FusionSpec(method="convex", members=ALL, weights=DEFAULT_CONVEX_WEIGHTS),
    "hybrid": DEFAULT_FUSION,
}
DEFAULT_HYBRID = "hybrid"


# Named fusions a search can ask for. `hybrid` is the product's default; the others are the
# fusions a vector database offers natively (see core/index/search.py for the engine's forms).
SEARCH_FUSIONS = ("hybrid", "convex", "rrf", "weighted_rrf", "dbsf")


def search_fusion(name: str, available: Sequence[str], weights: Mapping[str, float] | None = None) -> FusionSpec:
    """The FusionSpec of a named search fusion over the retrievers ``available`` has."""
    members = tuple(m for m in ALL if m in available)
    given = dict(weights) if weights else None
    if name == "hybrid":
        spec = DEFAULT_FUSION if given is None else DEFAULT_FUSION.model_copy(update={"weights": given})
    elif name == "convex":
        spec = FusionSpec(method="convex", members=ALL, weights=given or DEFAULT_CONVEX_WEIGHTS)
    elif name == "rrf":
        spec = FusionSpec(method="rrf", members=members)
    elif name == "weighted_rrf":
        spec = FusionSpec(method="rrf", members=members, weights=given or DEFAULT_CONVEX_WEIGHTS)
    elif name == "dbsf":
        spec = FusionSpec(method="convex", members=members, normalization="dbsf")
    else:
        raise ValueError(f"unknown fusion {name!r}: use one of {', '.join(SEARCH_FUSIONS)}")
    return spec.restricted(available)


def hybrid_members(available: list[str], name: str = DEFAULT_HYBRID) -> tuple[str, tuple[str, ...]]:
    spec = hybrid_spec(available, name)
    return spec.method, spec.members


def hybrid_spec(available: Sequence[str], name: str = DEFAULT_HYBRID) -> FusionSpec:
    """The fusion ``name`` over the retrievers an export has (dense alone when it has none of them)."""
    return FUSIONS[name].restricted(available)


def fusions_for(available: Sequence[str], convex_weights: Mapping[str, float] | None = None,
                whole_documents: bool = True) -> dict[str, FusionSpec]:
    """The fusions measurable with ``available`` retrievers (an RRF needs all its members); without
    the chunks' text (``whole_documents`` false), lexical scores stay per chunk."""
    out = {}
    for name, spec in FUSIONS.items():
        present = tuple(m for m in spec.members if m in available)
        if len(present) < 2 or (spec.method == "rrf" and len(present) != len(spec.members)):
            continue
        if name == "convex" and convex_weights:
            spec = spec.model_copy(update={"weights": dict(convex_weights)})
        out[name] = spec.model_copy(update={"members": present, **({} if whole_documents else {"lexical": "chunk"})})
    return out


def keys_for(specs: Sequence[FusionSpec], singles: Sequence[str]) -> list[str]:
    keys = list(singles)
    for spec in specs:
        keys += [k for m in spec.members if (k := member_key(m, spec.aggregation, spec.lexical)) not in keys]
    return keys


def evaluate_retrievers(index: ExportIndex, encoder: QueryEncoder, queries: Mapping[str, str],
                        qrels: Mapping[str, Mapping[str, int]],
                        convex_weights: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    ids = sorted(q for q in queries if q in qrels)
    available = [r for r in RETRIEVERS if r in index.available()]
    specs = fusions_for(available, convex_weights, index.has_text)
    matrices = document_matrices(index, encoder, [queries[q] for q in ids], keys_for(list(specs.values()), available))
    results: dict[str, dict[str, float]] = {}
    for name in available:
        results[name] = _figures(matrices[name], index.docs, ids, qrels)
    for name, spec in specs.items():
        results[name] = _figures(fuse_matrices(matrices, spec), index.docs, ids, qrels)
    return results


def _figures(scores: np.ndarray, docs: np.ndarray, ids: Sequence[str],
             qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    return evaluate(dict(zip(ids, runs(scores, docs, DEPTH))), qrels)


def cross_validate_retrievers(index: ExportIndex, encoder: QueryEncoder, queries: Mapping[str, str],
                              qrels: Mapping[str, Mapping[str, int]], folds: int = 5, seed: int = 0,
                              convex_weights: Mapping[str, float] | None = None) -> CrossValidation | None:
    """k-fold cross-validation of the lever grid (see :mod:`.crossval`) against the ``convex`` row;
    None when the export has fewer than two retrievers."""
    ids = sorted(q for q in queries if q in qrels)
    available = [r for r in RETRIEVERS if r in index.available()]
    previous = fusions_for(available, convex_weights, index.has_text).get("convex")
    if previous is None:
        return None
    specs = [*lever_grid(available, index.has_text), previous]
    matrices = document_matrices(index, encoder, [queries[q] for q in ids], keys_for(specs, available))
    return cross_validate(matrices, index.docs, ids, qrels, available, previous, k=folds, seed=seed,
                          whole_documents=index.has_text)
