"""Sparse vector records and their Arrow columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

# The vocabulary of BERT-family tokenizers (SPLADE's and MiniLM's): the width of sparse
# vectors when no model says otherwise.
DEFAULT_VOCAB_SIZE = 30522

SparseSource = Literal["model-gpu", "model-cpu", "metadata"]
SPARSE_SOURCES: tuple[SparseSource, ...] = ("model-gpu", "model-cpu", "metadata")
SPARSE_VECTOR_SCHEMA = pa.schema([
    pa.field("sparse_indices", pa.list_(pa.int32())),
    pa.field("sparse_values", pa.list_(pa.float32())),
    pa.field("sparse_source", pa.string()),
])


class SparseVector(BaseModel):
    """A sparse vector in a model's token-id space: sorted indices and their weights."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    indices: list[int]
    values: list[float]

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def top_terms(self, k: int) -> list[tuple[int, float]]:
        order = np.argsort(-np.asarray(self.values, dtype=np.float32), kind="stable")[:k]
        return [(self.indices[i], self.values[i]) for i in order]


def sparse_columns(vectors: Sequence[SparseVector]) -> tuple[pa.Array, pa.Array]:
    idx = pa.array([v.indices for v in vectors], type=pa.list_(pa.int32()))
    val = pa.array([v.values for v in vectors], type=pa.list_(pa.float32()))
    return idx, val


def sparse_from_columns(indices: pa.ChunkedArray, values: pa.ChunkedArray) -> list[SparseVector]:
    return [SparseVector(indices=i or [], values=v or []) for i, v in zip(indices.to_pylist(), values.to_pylist())]


def sparse_table(vectors: Sequence[SparseVector], sources: Sequence[str]) -> pa.Table:
    idx, val = sparse_columns(vectors)
    return pa.table({"sparse_indices": idx, "sparse_values": val, "sparse_source": pa.array(sources, type=pa.string())},
                    schema=SPARSE_VECTOR_SCHEMA)


def rows_to_sparse(batch: Any) -> list[SparseVector]:
    """A (B, V) torch tensor (dense or sparse COO) to sorted per-row sparse vectors."""
    import torch

    if batch.is_sparse:
        batch = batch.coalesce()
        idx = batch.indices().cpu().numpy()
        val = batch.values().float().cpu().numpy()
        rows, cols = idx[0], idx[1]
    else:
        dense = batch.float().cpu()
        rows_t, cols_t = torch.nonzero(dense, as_tuple=True)
        rows, cols = rows_t.numpy(), cols_t.numpy()
        val = dense[rows_t, cols_t].numpy()
    order = np.lexsort((cols, rows))
    rows, cols, val = rows[order], cols[order], val[order]
    bounds = np.searchsorted(rows, np.arange(batch.shape[0] + 1))
    return [
        SparseVector(indices=cols[bounds[r]:bounds[r + 1]].astype(np.int64).tolist(),
                     values=val[bounds[r]:bounds[r + 1]].astype(np.float32).tolist())
        for r in range(batch.shape[0])
    ]
