"""One query against an exported collection: the retrievers to use, fused scores per
document, and each hit's best chunk."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from .evaluation import search_fusion
from .hybrid import DEPTH, FusionSpec, fuse_matrices, member_key, runs
from .index import ExportIndex, document_matrices

MODES = ("dense", "splade", "lexical", "hybrid")


class SearchHit(BaseModel):
    rank: int
    doc_id: str
    score: float
    chunk_id: str
    row: int


class SearchResult(BaseModel):
    mode: str
    members: tuple[str, ...]
    hits: list[SearchHit]
    explanation: str = ""


def search_members(index: ExportIndex, mode: str) -> tuple[str, tuple[str, ...]]:
    """(fusion method, retrievers) for ``mode``; raises ValueError when the export lacks them."""
    spec = search_spec(index, mode)
    return ("single" if len(spec.members) == 1 and mode != "hybrid" else spec.method), spec.members


def search_spec(index: ExportIndex, mode: str, fusion: str = "hybrid",
                weights: dict[str, float] | None = None) -> FusionSpec:
    """How ``mode`` scores documents: a fusion (the default hybrid unless another is named), or
    one retriever (a document as its best chunk)."""
    if mode == "hybrid":
        spec = search_fusion(fusion, index.available(), weights)
        if len(spec.members) == 1:  # one retriever: that retriever, as evaluation and the quality gate score it
            return FusionSpec(method="convex", members=spec.members, weights={spec.members[0]: 1.0})
        return spec if index.has_text else spec.model_copy(update={"lexical": "chunk"})
    if mode not in index.available():
        raise ValueError(f"the export has no {mode} vectors (available: {', '.join(index.available())})")
    return FusionSpec(method="convex", members=(mode,), weights={mode: 1.0})


def search_export(index: ExportIndex, encoder: Any, query: str, mode: str, top_k: int, fusion: str = "hybrid",
                  weights: dict[str, float] | None = None) -> SearchResult:
    """The best ``top_k`` documents for ``query`` (``encoder`` is a :class:`~.query.QueryEncoder`)."""
    spec = search_spec(index, mode, fusion, weights)
    depth = max(DEPTH, top_k)
    matrices = document_matrices(index, encoder, [query], [member_key(m, spec.aggregation, spec.lexical)
                                                           for m in spec.members])
    if len(spec.members) == 1:
        scores = runs(matrices[member_key(spec.members[0], spec.aggregation, spec.lexical)], index.docs, top_k)[0]
    else:
        scores = runs(fuse_matrices(matrices, spec, depth), index.docs, top_k)[0]
    lead = index.chunk_scores(spec.members[0], encoder.encode(spec.members[0], [query]))[0]
    hits = []
    for i, doc in enumerate(scores, start=1):
        rows = np.flatnonzero(index.doc_ids == doc)
        best = int(rows[np.argmax(lead[rows])])
        hits.append(SearchHit(rank=i, doc_id=doc, score=scores[doc], chunk_id=index.chunk_ids[best], row=best))
    return SearchResult(mode=mode, members=spec.members, hits=hits,
                        explanation=spec.explain() if len(spec.members) > 1 else f"{spec.members[0]} (best chunk)")
