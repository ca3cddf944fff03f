"""Exact retrieval over a collection's exported fused records (NumPy and SciPy).

Chunks are scored, and a document scores as its best chunk. Retrievers: ``dense``
(ensemble cosine), ``splade`` (sparse dot product), ``lexical`` (BM25-style weights;
the query weighs each distinct term 1, the IDF is already in the document weights),
and their fusions: reciprocal rank fusion (k = 60) of any subset, and a convex
combination of per-query min–max-normalized scores.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from scipy import sparse as sp

from .dense import aggregate
from .fusion import RRF_K, convex_combination, reciprocal_rank_fusion
from .records import vectors_from_column

RETRIEVERS = ("dense", "splade", "lexical")
DEPTH = 100


def _csr(indices: Any, values: Any, n_rows: int, dim: int) -> sp.csr_matrix:
    lengths = np.fromiter((len(i) if i is not None else 0 for i in indices), dtype=np.int64, count=n_rows)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    cols = np.fromiter((c for row in indices if row is not None for c in row), dtype=np.int64, count=int(indptr[-1]))
    vals = np.fromiter((v for row in values if row is not None for v in row), dtype=np.float32, count=int(indptr[-1]))
    return sp.csr_matrix((vals, cols, indptr), shape=(n_rows, dim))


@dataclass
class ExportIndex:
    chunk_ids: list[str]
    doc_ids: np.ndarray
    dense: np.ndarray
    splade: sp.csr_matrix | None
    lexical: sp.csr_matrix | None
    path: Path | None = None

    @classmethod
    def load(cls, parquet: Path, vocab_size: int = 30522) -> ExportIndex:
        return cls.from_table(pq.read_table(parquet), parquet, vocab_size)

    @classmethod
    def from_table(cls, table: Any, path: Path | None = None, vocab_size: int = 30522) -> ExportIndex:
        names = set(table.column_names)
        n = table.num_rows
        splade = (_csr(table.column("sparse_indices").to_pylist(), table.column("sparse_values").to_pylist(), n,
                       vocab_size) if "sparse_indices" in names else None)
        lexical = (_csr(table.column("lexical_indices").to_pylist(), table.column("lexical_values").to_pylist(), n,
                        vocab_size) if "lexical_indices" in names else None)
        return cls(chunk_ids=table.column("chunk_id").to_pylist(),
                   doc_ids=np.asarray(table.column("doc_id").to_pylist(), dtype=object),
                   dense=vectors_from_column(table.column("dense")), splade=splade, lexical=lexical, path=path)

    def available(self) -> list[str]:
        return [r for r, present in (("dense", True), ("splade", self.splade is not None),
                                     ("lexical", self.lexical is not None)) if present]

    def chunk_scores(self, retriever: str, queries: Any) -> np.ndarray:
        """(queries, chunks) scores; ``queries`` is a dense matrix or a CSR matrix."""
        if retriever == "dense":
            return np.asarray(queries, dtype=np.float32) @ self.dense.T
        matrix = self.splade if retriever == "splade" else self.lexical
        if matrix is None:
            raise ValueError(f"the export has no {retriever} vectors; materialize with them enabled")
        return np.asarray((queries @ matrix.T).todense(), dtype=np.float32)

    @functools.cached_property
    def _documents(self) -> tuple[np.ndarray, np.ndarray]:
        """Distinct document ids, and each chunk's position among them (computed once)."""
        return np.unique(self.doc_ids.astype(str), return_inverse=True)

    def doc_scores(self, chunk_scores: np.ndarray, depth: int = DEPTH) -> list[dict[str, float]]:
        """Per query, the best ``depth`` documents scored by their best chunk."""
        docs, inverse = self._documents
        out = []
        for row in chunk_scores:
            best = np.full(len(docs), -np.inf, dtype=np.float32)
            np.maximum.at(best, inverse, row)
            top = np.argsort(-best, kind="stable")[:depth]
            out.append({str(docs[i]): float(best[i]) for i in top})
        return out


def fuse(per_retriever: Mapping[str, Sequence[Mapping[str, float]]], method: str, members: Sequence[str],
         weights: Mapping[str, float] | None = None) -> list[dict[str, float]]:
    """Fuse per-query document scores of ``members`` by ``rrf`` or ``convex``."""
    n_queries = len(next(iter(per_retriever.values())))
    fused = []
    for q in range(n_queries):
        sets = [per_retriever[m][q] for m in members]
        if method == "rrf":
            rankings = [sorted(s, key=lambda d, s=s: (-s[d], d)) for s in sets]
            fused.append(dict(reciprocal_rank_fusion(rankings, k=RRF_K)))
        elif method == "convex":
            w = weights or {}
            fused.append(dict(convex_combination(sets, [w.get(m, 1.0 / len(members)) for m in members])))
        else:
            raise ValueError(f"unknown fusion {method!r}: use rrf or convex")
    return fused


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

    def lexical(self, queries: Sequence[str], vocab_size: int = 30522) -> sp.csr_matrix:
        special = set(getattr(self.tokenizer, "all_special_ids", []) or [])
        ids = self.tokenizer(list(queries), add_special_tokens=False)["input_ids"]
        rows = [sorted({t for t in q if t not in special}) for q in ids]
        return _csr(rows, [[1.0] * len(r) for r in rows], len(rows), vocab_size)

    def encode(self, retriever: str, queries: Sequence[str]) -> Any:
        if retriever == "dense":
            return self.dense(queries)
        if retriever == "splade":
            return self.splade_vectors(queries)
        if retriever == "lexical":
            return self.lexical(queries)
        raise ValueError(f"unknown retriever {retriever!r}")


def retrieve(index: ExportIndex, encoder: QueryEncoder, queries: Sequence[str],
             retrievers: Sequence[str], depth: int = DEPTH) -> dict[str, list[dict[str, float]]]:
    return {r: index.doc_scores(index.chunk_scores(r, encoder.encode(r, queries)), depth) for r in retrievers}
