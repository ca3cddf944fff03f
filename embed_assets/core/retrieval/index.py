"""Exact retrieval over a collection's exported fused records (NumPy and SciPy).

Chunks are scored, and a document scores as its best chunk unless asked otherwise
(see :mod:`.hybrid`; ``encoder`` is a :class:`~.query.QueryEncoder`). Retrievers: ``dense``
(ensemble cosine), ``splade`` (sparse dot product), ``lexical`` (BM25-style weights;
the query weighs each distinct term 1, the IDF is already in the document weights; also
over whole documents, rebuilt from the chunks), and their fusions: reciprocal rank
fusion of any subset, and convex combinations of per-query normalized scores.
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

from ..encode.vectors import DEFAULT_VOCAB_SIZE
from ..storage.arrow import vectors_from_column
from .documents import document_lexical_vectors, document_texts, first_values
from .fusion import RRF_K, convex_combination, reciprocal_rank_fusion
from .hybrid import DEPTH, Aggregation, aggregate_chunks, runs
from .metrics import rank

RETRIEVERS = ("dense", "splade", "lexical")


def csr_rows(indices: Any, values: Any, n_rows: int, dim: int) -> sp.csr_matrix:
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
    texts: list[str] | None = None
    titles: list[str | None] | None = None
    ordinals: list[int] | None = None

    @classmethod
    def load(cls, parquet: Path, vocab_size: int = DEFAULT_VOCAB_SIZE) -> ExportIndex:
        return cls.from_table(pq.read_table(parquet), parquet, vocab_size)

    @classmethod
    def from_table(cls, table: Any, path: Path | None = None, vocab_size: int = DEFAULT_VOCAB_SIZE) -> ExportIndex:
        names = set(table.column_names)
        n = table.num_rows
        splade = (csr_rows(table.column("sparse_indices").to_pylist(), table.column("sparse_values").to_pylist(), n,
                       vocab_size) if "sparse_indices" in names else None)
        lexical = (csr_rows(table.column("lexical_indices").to_pylist(), table.column("lexical_values").to_pylist(), n,
                        vocab_size) if "lexical_indices" in names else None)
        column = {name: table.column(name).to_pylist() for name in ("text", "title", "ordinal") if name in names}
        return cls(chunk_ids=table.column("chunk_id").to_pylist(),
                   doc_ids=np.asarray(table.column("doc_id").to_pylist(), dtype=object),
                   dense=vectors_from_column(table.column("dense")), splade=splade, lexical=lexical, path=path,
                   texts=column.get("text"), titles=column.get("title"), ordinals=column.get("ordinal"))

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

    @property
    def has_text(self) -> bool:
        """Whether whole documents can be rebuilt from the chunks (text and ordinal columns)."""
        return self.texts is not None and self.ordinals is not None

    @property
    def docs(self) -> np.ndarray:
        """Distinct document ids, ascending: the columns of every document-score matrix."""
        return self._documents[0]

    def document_scores(self, chunk_scores: np.ndarray, aggregation: Aggregation = "max") -> np.ndarray:
        """(queries × documents) scores from (queries × chunks) scores."""
        docs, inverse = self._documents
        return aggregate_chunks(chunk_scores, inverse, len(docs), aggregation)

    def doc_scores(self, chunk_scores: np.ndarray, depth: int = DEPTH) -> list[dict[str, float]]:
        """Per query, the best ``depth`` documents scored by their best chunk."""
        return runs(self.document_scores(chunk_scores), self.docs, depth)

    def document_lexical(self, tokenizer: Any, vocab_size: int = DEFAULT_VOCAB_SIZE) -> sp.csr_matrix:
        """(documents × vocabulary) BM25 weights of whole documents (built once per tokenizer)."""
        built = self.__dict__.setdefault("_document_lexical", [])
        for seen, matrix in built:
            if seen is tokenizer:
                return matrix
        if self.texts is None or self.ordinals is None:
            raise ValueError("whole-document lexical scores need the chunks' text and ordinal columns")
        docs = [str(d) for d in self.docs]
        chunk_docs = self.doc_ids.astype(str).tolist()
        texts = document_texts(chunk_docs, self.ordinals, self.texts)
        titles = first_values(chunk_docs, self.titles or [None] * len(self.chunk_ids))
        vectors = document_lexical_vectors(docs, texts, titles, tokenizer)
        matrix = csr_rows([v.indices for v in vectors], [v.values for v in vectors], len(docs), vocab_size)
        built.append((tokenizer, matrix))
        return matrix


def fuse(per_retriever: Mapping[str, Sequence[Mapping[str, float]]], method: str, members: Sequence[str],
         weights: Mapping[str, float] | None = None) -> list[dict[str, float]]:
    """Fuse per-query document scores of ``members`` by ``rrf`` or ``convex``."""
    n_queries = len(next(iter(per_retriever.values())))
    fused = []
    for q in range(n_queries):
        sets = [per_retriever[m][q] for m in members]
        if method == "rrf":
            rankings = [rank(s) for s in sets]
            fused.append(dict(reciprocal_rank_fusion(rankings, k=RRF_K)))
        elif method == "convex":
            w = weights or {}
            raw = [w.get(m, 1.0 / len(members)) for m in members]
            total = sum(raw) or 1.0  # renormalized over the members present
            fused.append(dict(convex_combination(sets, [x / total for x in raw])))
        else:
            raise ValueError(f"unknown fusion {method!r}: use rrf or convex")
    return fused


def document_matrices(index: ExportIndex, encoder: Any, queries: Sequence[str],
                      keys: Sequence[str]) -> dict[str, np.ndarray]:
    """(queries × documents) scores for each member key (``dense``, ``splade@mean2``, ``lexical@document``…);
    each retriever encodes the queries once."""
    needed = {key.partition("@")[0] for key in keys}
    encoded = {r: encoder.encode(r, queries) for r in RETRIEVERS if r in needed}
    chunk = {r: index.chunk_scores(r, q) for r, q in encoded.items()
             if any(k.partition("@")[0] == r and k != "lexical@document" for k in keys)}
    out: dict[str, np.ndarray] = {}
    for key in keys:
        retriever, _, how = key.partition("@")
        if how == "document":
            matrix = index.document_lexical(encoder.tokenizer)
            out[key] = np.asarray((encoded[retriever] @ matrix.T).todense(), dtype=np.float32)
        else:
            out[key] = index.document_scores(chunk[retriever], how or "max")  # type: ignore[arg-type]
    return out


def retrieve(index: ExportIndex, encoder: Any, queries: Sequence[str],
             retrievers: Sequence[str], depth: int = DEPTH) -> dict[str, list[dict[str, float]]]:
    return {r: index.doc_scores(index.chunk_scores(r, encoder.encode(r, queries)), depth) for r in retrievers}
