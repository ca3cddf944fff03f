"""Retrieval quality of a collection's vectors on a labelled set: every retriever and
the standard fusions, with nDCG@10, MRR@10, Recall@10 and Recall@100."""

from __future__ import annotations

from collections.abc import Mapping

from .index import RETRIEVERS, ExportIndex, fuse, retrieve
from .metrics import evaluate
from .query import QueryEncoder

FUSIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "rrf_dense_splade": ("rrf", ("dense", "splade")),
    "rrf_dense_lexical": ("rrf", ("dense", "lexical")),
    "rrf_all": ("rrf", ("dense", "splade", "lexical")),
    "convex": ("convex", ("dense", "splade", "lexical")),
}
# The product's default hybrid, chosen from the measurements in docs/retrieval-quality.md.
DEFAULT_HYBRID = "convex"
DEFAULT_CONVEX_WEIGHTS = {"dense": 0.5, "splade": 0.25, "lexical": 0.25}


def hybrid_members(available: list[str], name: str = DEFAULT_HYBRID) -> tuple[str, tuple[str, ...]]:
    method, members = FUSIONS[name]
    present = tuple(m for m in members if m in available)
    return method, present or ("dense",)


def evaluate_retrievers(index: ExportIndex, encoder: QueryEncoder, queries: Mapping[str, str],
                        qrels: Mapping[str, Mapping[str, int]],
                        convex_weights: Mapping[str, float] | None = None) -> dict[str, dict[str, float]]:
    ids = sorted(q for q in queries if q in qrels)
    texts = [queries[q] for q in ids]
    available = [r for r in RETRIEVERS if r in index.available()]
    per = retrieve(index, encoder, texts, available)
    results: dict[str, dict[str, float]] = {}
    for name in available:
        results[name] = evaluate({q: per[name][i] for i, q in enumerate(ids)}, qrels)
    weights = dict(convex_weights or DEFAULT_CONVEX_WEIGHTS)
    for name, (method, members) in FUSIONS.items():
        present = [m for m in members if m in available]
        if len(present) < 2 or (method == "rrf" and len(present) != len(members)):
            continue
        fused = fuse(per, method, present, weights)
        results[name] = evaluate({q: fused[i] for i, q in enumerate(ids)}, qrels)
    return results
