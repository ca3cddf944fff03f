"""Searching a collection's index: chunks found by the engine, documents scored by their
best chunk (as in the exact search over exports).

Per vector (``dense``, ``splade``, ``lexical``) the engine returns chunks best first; a
document's first appearance is its best chunk, so reading chunks until ``depth`` documents
have appeared gives exactly the top ``depth`` documents. Hybrid search either lets the
engine fuse the vectors (RRF with k = 60, weighted RRF, DBSF) or — for the convex
combinations of min–max-normalized document scores, which the engine does not offer —
fuses the per-vector document scores here, as the export search does. ``hybrid`` is the
product's default fusion as near as the index can compute it: its weights, over best-chunk
document scores and chunk-level lexical vectors (the exact default also averages a
document's best two chunks and scores lexical over whole documents: ``--source exports``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from ..encode.vectors import SparseVector
from ..retrieval.evaluation import DEFAULT_CONVEX_WEIGHTS, search_fusion
from ..retrieval.fusion import RRF_K
from ..retrieval.index import fuse
from ..retrieval.metrics import rank
from .store import DENSE, Fusion, HybridQuery, ScoredChunk, VectorQuery, VectorStore

FusionName = Literal["hybrid", "convex", "rrf", "weighted_rrf", "dbsf"]
FUSION_NAMES: tuple[str, ...] = ("hybrid", "convex", "rrf", "weighted_rrf", "dbsf")
CLIENT_FUSIONS = ("hybrid", "convex")
MODES = ("dense", "splade", "lexical", "hybrid")
DEPTH = 100
CHUNKS_PER_DOC = 3
HIT_PAYLOAD = ("chunk_id", "doc_id", "title", "source_path")
DocScores = dict[str, float]


class IndexHit(BaseModel):
    rank: int
    doc_id: str
    score: float
    chunk_id: str
    title: str | None = None
    source_path: str | None = None
    text: str | None = None


class IndexSearchResult(BaseModel):
    mode: str
    fusion: str | None
    members: tuple[str, ...]
    hits: list[IndexHit]
    explanation: str = ""


def _rows(encoded: Any, name: str) -> list[VectorQuery]:
    if name == DENSE:
        return [VectorQuery(name=name, dense=tuple(float(x) for x in row)) for row in np.asarray(encoded)]
    csr = encoded.tocsr()
    return [VectorQuery(name=name, sparse=SparseVector(
        indices=csr.indices[csr.indptr[i]:csr.indptr[i + 1]].tolist(),
        values=csr.data[csr.indptr[i]:csr.indptr[i + 1]].astype(np.float32).tolist())) for i in range(csr.shape[0])]


def encode_queries(encoder: Any, queries: Sequence[str], members: Sequence[str]) -> list[dict[str, VectorQuery]]:
    """Per query, one vector query per member (``encoder`` is a QueryEncoder)."""
    per_member = {m: _rows(encoder.encode(m, list(queries)), m) for m in members}
    return [{m: per_member[m][i] for m in members} for i in range(len(queries))]


def _best_chunks(hits: Sequence[ScoredChunk]) -> dict[str, ScoredChunk]:
    docs: dict[str, ScoredChunk] = {}
    for hit in hits:
        docs.setdefault(hit.doc_id, hit)
    return docs


def doc_rankings(store: VectorStore, build: Callable[[int, int], HybridQuery], n_queries: int,
                 depth: int = DEPTH) -> list[dict[str, ScoredChunk]]:
    """Per query, its best ``depth`` documents (best chunk each). ``build(i, limit)`` is query
    ``i`` asking for ``limit`` chunks; the limit doubles until enough documents appear."""
    total = store.count()
    limit = max(1, min(total, depth * CHUNKS_PER_DOC))
    first = store.query_batch([build(i, limit) for i in range(n_queries)])
    out = []
    for i, hits in enumerate(first):
        docs, current = _best_chunks(hits), limit
        while len(docs) < depth and len(hits) >= current and current < total:
            current = min(total, current * 2)
            hits = store.query(build(i, current))
            docs = _best_chunks(hits)
        out.append(dict(list(docs.items())[:depth]))
    return out


def single(vq: VectorQuery, limit: int, exact: bool, payload: tuple[str, ...] = HIT_PAYLOAD) -> HybridQuery:
    return HybridQuery(vectors=(vq,), limit=limit, exact=exact, payload=payload)


def engine_fusion(name: str, members: Sequence[str], weights: Mapping[str, float] | None = None) -> Fusion:
    if name == "rrf":
        return Fusion(method="rrf", k=RRF_K)
    if name == "weighted_rrf":
        w = dict(weights or DEFAULT_CONVEX_WEIGHTS)
        return Fusion(method="rrf", k=RRF_K, weights=tuple(float(w.get(m, 1.0)) for m in members))
    if name == "dbsf":
        return Fusion(method="dbsf")
    raise ValueError(f"{name!r} is not an engine fusion (use rrf, weighted_rrf or dbsf)")


def fused(vqs: Mapping[str, VectorQuery], members: Sequence[str], fusion: Fusion, limit: int, exact: bool,
          payload: tuple[str, ...] = HIT_PAYLOAD) -> HybridQuery:
    return HybridQuery(vectors=tuple(vqs[m] for m in members), fusion=fusion, limit=limit,
                       prefetch_limit=max(limit, DEPTH), exact=exact, payload=payload)


def per_vector_docs(store: VectorStore, encoded: Sequence[Mapping[str, VectorQuery]], members: Sequence[str],
                    depth: int = DEPTH, exact: bool = False) -> dict[str, list[dict[str, ScoredChunk]]]:
    return {m: doc_rankings(store, lambda i, lim, m=m: single(encoded[i][m], lim, exact), len(encoded), depth)
            for m in members}


def scores_of(rankings: Sequence[Mapping[str, ScoredChunk]]) -> list[DocScores]:
    return [{doc: hit.score for doc, hit in r.items()} for r in rankings]


def _hits(scores: DocScores, chunks: Sequence[Mapping[str, ScoredChunk]], top_k: int) -> list[IndexHit]:
    hits = []
    for i, doc in enumerate(rank(scores, top_k), start=1):
        best = next(c[doc] for c in chunks if doc in c)
        hits.append(IndexHit(rank=i, doc_id=doc, score=scores[doc], chunk_id=best.chunk_id,
                             title=best.payload.get("title"), source_path=best.payload.get("source_path"),
                             text=best.payload.get("text")))
    return hits


def search_index(store: VectorStore, encoder: Any, query: str, members: Sequence[str], *, top_k: int = 10,
                 fusion: str = "hybrid", weights: Mapping[str, float] | None = None, exact: bool = False,
                 with_text: bool = False) -> IndexSearchResult:
    """The best ``top_k`` documents for ``query``, over ``members`` (one member: no fusion)."""
    payload = HIT_PAYLOAD + (("text",) if with_text else ())
    vqs = encode_queries(encoder, [query], members)[0]
    depth = max(DEPTH, top_k)
    if len(members) == 1 or fusion in CLIENT_FUSIONS:
        per = {m: doc_rankings(store, lambda _i, lim, m=m: single(vqs[m], lim, exact, payload), 1, depth)[0]
               for m in members}
        spec = search_fusion(fusion if fusion in CLIENT_FUSIONS else "hybrid", members, weights)
        scores = (scores_of([per[members[0]]])[0] if len(members) == 1 else
                  fuse({m: scores_of([per[m]]) for m in members}, "convex", members, spec.weights)[0])
        chunks = [per[m] for m in members]
        explanation = (f"{members[0]} (best chunk)" if len(members) == 1 else
                       spec.model_copy(update={"aggregation": "max", "lexical": "chunk"}).explain())
    else:
        engine = engine_fusion(fusion, members, weights)
        ranking = doc_rankings(store, lambda _i, lim: fused(vqs, members, engine, lim, exact, payload), 1, depth)[0]
        scores, chunks = scores_of([ranking])[0], [ranking]
        explanation = f"the engine's {fusion} of {' + '.join(members)} over chunks, a document as its best chunk"
    return IndexSearchResult(mode="hybrid" if len(members) > 1 else members[0],
                             fusion=fusion if len(members) > 1 else None, members=tuple(members),
                             hits=_hits(scores, chunks, top_k), explanation=explanation)
