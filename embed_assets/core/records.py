"""Typed records that flow between stages, and their Arrow table forms.

Records are pydantic models at API boundaries; between stages the same data travels
as Arrow tables (one row per chunk) so that nothing is pickled and every stored
output is readable by pandas or pyarrow.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

STAGE_METADATA_KEY = b"embed_assets.stage"

SparseSource = Literal["model-gpu", "model-cpu", "metadata"]


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


class ChunkMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_path: str = Field(description="Path of the source file, relative to the collection folder (posix).")
    title: str | None = None
    headings: list[str] = Field(default_factory=list)
    char_start: int = 0
    char_end: int = 0


class ChunkRecord(BaseModel):
    """One chunk of one document. ``chunk_id`` is stable: the same text in the same place
    of the same document gets the same id in every run."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    doc_id: str
    collection: str
    ordinal: int = Field(ge=0)
    text: str
    token_count: int = Field(ge=0)
    content_hash: str
    metadata: ChunkMetadata


def make_chunk_id(collection: str, doc_id: str, ordinal: int, content_hash: str) -> str:
    return sha256_hex("\x1f".join((collection, doc_id, str(ordinal), content_hash)))[:32]


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


# ---------------------------------------------------------------- Arrow tables

CHUNK_SCHEMA = pa.schema(
    [
        pa.field("chunk_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("collection", pa.string(), nullable=False),
        pa.field("ordinal", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("token_count", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("headings", pa.list_(pa.string())),
        pa.field("char_start", pa.int64()),
        pa.field("char_end", pa.int64()),
    ]
)


def chunks_to_table(chunks: Sequence[ChunkRecord]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in CHUNK_SCHEMA}
    for c in chunks:
        cols["chunk_id"].append(c.chunk_id)
        cols["doc_id"].append(c.doc_id)
        cols["collection"].append(c.collection)
        cols["ordinal"].append(c.ordinal)
        cols["text"].append(c.text)
        cols["token_count"].append(c.token_count)
        cols["content_hash"].append(c.content_hash)
        cols["source_path"].append(c.metadata.source_path)
        cols["title"].append(c.metadata.title)
        cols["headings"].append(list(c.metadata.headings))
        cols["char_start"].append(c.metadata.char_start)
        cols["char_end"].append(c.metadata.char_end)
    return pa.table(cols, schema=CHUNK_SCHEMA)


def table_to_chunks(table: pa.Table) -> list[ChunkRecord]:
    rows = table.select([f.name for f in CHUNK_SCHEMA]).to_pylist()
    return [
        ChunkRecord(
            chunk_id=r["chunk_id"],
            doc_id=r["doc_id"],
            collection=r["collection"],
            ordinal=r["ordinal"],
            text=r["text"],
            token_count=r["token_count"],
            content_hash=r["content_hash"],
            metadata=ChunkMetadata(
                source_path=r["source_path"],
                title=r["title"],
                headings=r["headings"] or [],
                char_start=r["char_start"] or 0,
                char_end=r["char_end"] or 0,
            ),
        )
        for r in rows
    ]


def fixed_size_vectors(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """An (N, D) matrix as an Arrow fixed-size list of float32 (no copy for float32 input)."""
    m = np.ascontiguousarray(matrix, dtype=np.float32)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"expected an (N, D) matrix with D > 0, got shape {m.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1), type=pa.float32()), m.shape[1])


def vectors_from_column(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Back from a fixed-size list column to an (N, D) float32 matrix."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)
    d = column.type.list_size
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, d)


def sparse_columns(vectors: Sequence[SparseVector]) -> tuple[pa.Array, pa.Array]:
    idx = pa.array([v.indices for v in vectors], type=pa.list_(pa.int32()))
    val = pa.array([v.values for v in vectors], type=pa.list_(pa.float32()))
    return idx, val


def sparse_from_columns(indices: pa.ChunkedArray, values: pa.ChunkedArray) -> list[SparseVector]:
    return [SparseVector(indices=i or [], values=v or []) for i, v in zip(indices.to_pylist(), values.to_pylist())]


def with_stage_metadata(table: pa.Table, stage: BaseModel | dict[str, Any]) -> pa.Table:
    """Attach a stage section (counts, latency, decisions) to a table's schema metadata.

    The section travels with the Parquet file, so a later stage reads it without
    loading the rows."""
    payload = stage.model_dump(mode="json") if isinstance(stage, BaseModel) else stage
    meta = dict(table.schema.metadata or {})
    meta[STAGE_METADATA_KEY] = json.dumps(payload, sort_keys=True).encode("utf-8")
    return table.replace_schema_metadata(meta)


def stage_metadata(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(STAGE_METADATA_KEY)
    return json.loads(raw) if raw else {}


def list_l2_norms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """L2 norm of every row of a list<float> column, without Python objects per value."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)
    offsets = np.asarray(column.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = offsets - offsets[0]
    values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    squares = np.concatenate([[0.0], np.cumsum(values * values)])
    return np.sqrt(squares[offsets[1:]] - squares[offsets[:-1]]).astype(np.float32)
