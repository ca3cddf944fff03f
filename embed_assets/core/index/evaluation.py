"""Retrieval quality measured through the index: the same retrievers and fusions as the
exact evaluation over exports (documents ranked from the engine's per-vector results, then
fused here), plus the engine's own fusions of the chunk rankings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..retrieval.evaluation import DEFAULT_CONVEX_WEIGHTS, FUSIONS
from ..retrieval.index import RETRIEVERS, fuse
from ..retrieval.metrics import evaluate, rank
from .search import DEPTH, doc_rankings, encode_queries, engine_fusion, fused, per_vector_docs, scores_of
from .store import IndexSchema, VectorStore

# Fusions the engine computes over chunk rankings (RRF with k = 60; weights as the convex ones).
ENGINE_FUSIONS = {"engine_rrf": "rrf", "engine_weighted_rrf": "weighted_rrf", "engine_dbsf": "dbsf"}


def index_doc_scores(store: VectorStore, encoder: Any, queries: Sequence[str], members: Sequence[str],
                     exact: bool = False, depth: int = DEPTH) -> dict[str, list[dict[str, float]]]:
    """Per vector, per query: the best ``depth`` documents and their best chunk's score."""
    encoded = encode_queries(encoder, queries, members)
    return {m: scores_of(r) for m, r in per_vector_docs(store, encoded, members, depth, exact).items()}


def evaluate_index(store: VectorStore, schema: IndexSchema, encoder: Any, queries: Mapping[str, str],
                   qrels: Mapping[str, Mapping[str, int]], convex_weights: Mapping[str, float] | None = None,
                   exact: bool = False) -> dict[str, dict[str, float]]:
    ids = sorted(q for q in queries if q in qrels)
    texts = [queries[q] for q in ids]
    available = [r for r in RETRIEVERS if r in schema.vectors]
    encoded = encode_queries(encoder, texts, available)
    per = {m: scores_of(r) for m, r in per_vector_docs(store, encoded, available, DEPTH, exact).items()}
    results = {name: evaluate({q: rank(per[name][i]) for i, q in enumerate(ids)}, qrels) for name in available}
    weights = dict(convex_weights or DEFAULT_CONVEX_WEIGHTS)
    for name, (method, members) in FUSIONS.items():
        present = [m for m in members if m in available]
        if len(present) < 2 or (method == "rrf" and len(present) != len(members)):
            continue
        fused_scores = fuse(per, method, present, weights)
        results[name] = evaluate({q: rank(fused_scores[i]) for i, q in enumerate(ids)}, qrels)
    if len(available) > 1:
        for name, method in ENGINE_FUSIONS.items():
            engine = engine_fusion(method, available, weights)
            rankings = doc_rankings(store, lambda i, lim, e=engine: fused(encoded[i], available, e, lim, exact),
                                    len(ids), DEPTH)
            results[name] = evaluate({q: rank(s) for q, s in zip(ids, scores_of(rankings))}, qrels)
    return results
