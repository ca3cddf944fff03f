"""One query against an exported collection: the retrievers to use, fused scores per
document, and each hit's best chunk."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from .evaluation import DEFAULT_CONVEX_WEIGHTS, hybrid_members
from .index import ExportIndex, fuse
from .metrics import rank

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


def search_members(index: ExportIndex, mode: str) -> tuple[str, tuple[str, ...]]:
    """(fusion method, retrievers) for ``mode``; raises ValueError when the export lacks them."""
    if mode == "hybrid":
        return hybrid_members(index.available())
    if mode not in index.available():
        raise ValueError(f"the export has no {mode} vectors (available: {', '.join(index.available())})")
    return "single", (mode,)


def search_export(index: ExportIndex, encoder: Any, query: str, mode: str, top_k: int) -> SearchResult:
    """The best ``top_k`` documents for ``query`` (``encoder`` is a :class:`~.query.QueryEncoder`)."""
    method, members = search_members(index, mode)
    chunk_scores = {m: index.chunk_scores(m, encoder.encode(m, [query]))[0] for m in members}
    per = {m: index.doc_scores(scores[None, :], depth=max(100, top_k)) for m, scores in chunk_scores.items()}
    scores = (per[members[0]][0] if method == "single" or len(members) == 1
              else fuse(per, method, members, DEFAULT_CONVEX_WEIGHTS)[0])
    lead = chunk_scores[members[0]]
    hits = []
    for i, doc in enumerate(rank(scores, top_k), start=1):
        rows = np.flatnonzero(index.doc_ids == doc)
        best = int(rows[np.argmax(lead[rows])])
        hits.append(SearchHit(rank=i, doc_id=doc, score=scores[doc], chunk_id=index.chunk_ids[best], row=best))
    return SearchResult(mode=mode, members=members, hits=hits)
