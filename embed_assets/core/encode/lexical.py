"""Lexical sparse vectors in a model's token-id space.

Used as the metadata-derived fallback of the sparse stage: weights come from the
chunk text plus its metadata (title, headings, boosted), with BM25-style term
frequency saturation and inverse document frequency over the collection's chunks.
Indices live in the same vocabulary as the SPLADE model, so fallback vectors and
model vectors can be scored against the same query vector.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..ingest.records import ChunkRecord
from .vectors import SparseVector, sparse_columns


@dataclass(frozen=True)
class LexicalParams:
    k1: float = 1.2
    b: float = 0.75
    title_boost: float = 2.0
    heading_boost: float = 1.5


@dataclass(frozen=True)
class CollectionStats:
    n_chunks: int
    avg_length: float
    document_frequency: dict[int, int]

    def idf(self, token_id: int) -> float:
        df = self.document_frequency.get(token_id, 0)
        return math.log(1.0 + (self.n_chunks - df + 0.5) / (df + 0.5))


class LexicalWeighter:
    def __init__(self, tokenizer: Any, params: LexicalParams | None = None) -> None:
        self.tokenizer = tokenizer
        self.params = params or LexicalParams()
        self.special_ids = set(getattr(tokenizer, "all_special_ids", []) or [])

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False,
                             return_token_type_ids=False)
        return [[t for t in ids if t not in self.special_ids] for ids in enc["input_ids"]]

    def _weighted_tf(self, chunks: Sequence[ChunkRecord]) -> tuple[list[dict[int, float]], list[int]]:
        body = self.token_ids([c.text for c in chunks])
        titles = self.token_ids([c.metadata.title or "" for c in chunks])
        heads = self.token_ids([" ".join(c.metadata.headings) for c in chunks])
        tfs: list[dict[int, float]] = []
        lengths: list[int] = []
        p = self.params
        for b_ids, t_ids, h_ids in zip(body, titles, heads):
            tf: dict[int, float] = {}
            for ids, w in ((b_ids, 1.0), (t_ids, p.title_boost), (h_ids, p.heading_boost)):
                for t in ids:
                    tf[t] = tf.get(t, 0.0) + w
            tfs.append(tf)
            lengths.append(len(b_ids))
        return tfs, lengths

    def fit(self, chunks: Sequence[ChunkRecord], slice_size: int = 1024) -> CollectionStats:
        """Collection statistics, a slice at a time (memory holds one slice's term counts)."""
        df: dict[int, int] = {}
        total_length = 0
        for start in range(0, len(chunks), slice_size):
            tfs, lengths = self._weighted_tf(chunks[start:start + slice_size])
            total_length += sum(lengths)
            for tf in tfs:
                for t in tf:
                    df[t] = df.get(t, 0) + 1
        avg = total_length / len(chunks) if chunks else 0.0
        return CollectionStats(n_chunks=len(chunks), avg_length=max(avg, 1.0), document_frequency=df)

    def columns(self, chunks: Sequence[ChunkRecord], stats: CollectionStats,
                slice_size: int = 1024) -> tuple[pa.Array, pa.Array]:
        """Lexical vectors as Arrow (indices, values) list arrays, a slice at a time."""
        parts = [sparse_columns(self.vectors(chunks[s:s + slice_size], stats))
                 for s in range(0, len(chunks), slice_size)]
        if not parts:
            return pa.array([], pa.list_(pa.int32())), pa.array([], pa.list_(pa.float32()))
        return pa.concat_arrays([p[0] for p in parts]), pa.concat_arrays([p[1] for p in parts])

    def vectors(self, chunks: Sequence[ChunkRecord], stats: CollectionStats) -> list[SparseVector]:
        tfs, lengths = self._weighted_tf(chunks)
        p = self.params
        out = []
        for tf, length in zip(tfs, lengths):
            norm = p.k1 * (1.0 - p.b + p.b * length / stats.avg_length)
            items = sorted(tf.items())
            out.append(SparseVector(
                indices=[t for t, _ in items],
                values=[float(stats.idf(t) * f * (p.k1 + 1.0) / (f + norm)) for t, f in items],
            ))
        return out
