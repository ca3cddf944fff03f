"""Retrieval quality measured through the index: the same retrievers and the fusions over
best-chunk document scores as the exact evaluation over exports (documents ranked from the
engine's per-vector results, then fused here), plus the engine's own fusions of the chunk
rankings. The fusions that need what the index does not hold — the mean of a document's
best two chunks, BM25 over whole documents (the cross-validated default hybrid) — are
measured over the exports only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..retrieval.evaluation import DEFAULT_CONVEX_WEIGHTS, fusions_for
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


def index_fusions(available: Sequence[str], convex_weights: Mapping[str, float]) -> dict[str, Any]:
    """The fusions the index reproduces exactly: over best-chunk scores, chunk-level lexical."""
    specs = fusions_for(available, convex_weights, whole_documents=False)
    return {name: spec for name, spec in specs.items() if spec.aggregation == "max"}


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
    for name, spec in index_fusions(available, weights).items():
        fused_scores = fuse(per, spec.method, spec.members, spec.weights or weights)
        results[name] = evaluate({q: rank(fused_scores[i]) for i, q in enumerate(ids)}, qrels)
    if len(available) > 1:
        for name, method in ENGINE_FUSIONS.items():
            engine = engine_fusion(method, available, weights)
            rankings = doc_rankings(store, lambda i, lim, e=engine: fused(encoded[i], available, e, lim, exact),
                                    len(ids), DEPTH)
            results[name] = evaluate({q: rank(s) for q, s in zip(ids, scores_of(rankings))}, qrels)
    return results
