"""Encoding queries the way a collection was encoded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse as sp

from ..encode.ensemble import aggregate
from ..encode.vectors import DEFAULT_VOCAB_SIZE
from .index import csr_rows


def recorded_backends(manifest: dict[str, Any]) -> tuple[list[str | None], str | None]:
    """The encoder backends a collection's manifest says its vectors came from: one per dense
    model, and the SPLADE model's (None where it predates backends: torch). Queries encoded
    on the same backends land in the same space as the collection's vectors."""
    stages = manifest.get("stages", {})

    def name(entry: dict[str, Any] | None) -> str | None:
        return ((entry or {}).get("backend") or {}).get("name") or ("torch" if entry else None)

    sparse = stages.get("sparse") or {}
    return [name(m) for m in stages.get("dense", {}).get("models", [])], name(sparse.get("model"))


class QueryEncoder:
    """Encodes queries the way the collection was encoded: the same dense ensemble
    (models, weights, aggregation), SPLADE's query encoding, and lexical term sets."""

    def __init__(self, dense_models: Sequence[Any], weights: Sequence[float], aggregation: str,
                 splade: Any | None, tokenizer: Any) -> None:
        self.dense_models = list(dense_models)
        self.weights = list(weights)
        self.aggregation = aggregation
        self.splade = splade
        self.tokenizer = tokenizer

    def dense(self, queries: Sequence[str]) -> np.ndarray:
        per_model = [m.encode(list(queries), normalize_embeddings=True, convert_to_numpy=True,
                              show_progress_bar=False) for m in self.dense_models]
        return aggregate(per_model, self.weights, self.aggregation)  # type: ignore[arg-type]

    def splade_vectors(self, queries: Sequence[str]) -> sp.csr_matrix:
        if self.splade is None:
            raise ValueError("no SPLADE model to encode queries with")
        out = self.splade.encode_query(list(queries), convert_to_tensor=True, convert_to_sparse_tensor=True)
        coo = out.coalesce()
        rows, cols = coo.indices().cpu().numpy()
        return sp.csr_matrix((coo.values().float().cpu().numpy(), (rows, cols)), shape=tuple(out.shape))

    def lexical(self, queries: Sequence[str], vocab_size: int = DEFAULT_VOCAB_SIZE) -> sp.csr_matrix:
        special = set(getattr(self.tokenizer, "all_special_ids", []) or [])
        ids = self.tokenizer(list(queries), add_special_tokens=False)["input_ids"]
        rows = [sorted({t for t in q if t not in special}) for q in ids]
        return csr_rows(rows, [[1.0] * len(r) for r in rows], len(rows), vocab_size)

    def encode(self, retriever: str, queries: Sequence[str]) -> Any:
        if retriever == "dense":
            return self.dense(queries)
        if retriever == "splade":
            return self.splade_vectors(queries)
        if retriever == "lexical":
            return self.lexical(queries)
        raise ValueError(f"unknown retriever {retriever!r}")
