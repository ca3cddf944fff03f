"""Arrow forms shared by every stage: dense vectors as fixed-size float32 lists, row norms
of list columns, and the stage envelope that travels in a table's schema metadata."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

STAGE_METADATA_KEY = b"embed_assets.stage"


def fixed_size_vectors(matrix: np.ndarray) -> pa.FixedSizeListArray:
    """An (N, D) matrix as an Arrow fixed-size list of float32 (no copy for float32 input)."""
    m = np.ascontiguousarray(matrix, dtype=np.float32)
    if m.ndim != 2 or m.shape[1] == 0:
        raise ValueError(f"expected an (N, D) matrix with D > 0, got shape {m.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1), type=pa.float32()), m.shape[1])


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)
    return column


def vectors_from_column(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Back from a fixed-size list column to an (N, D) float32 matrix."""
    column = _combined(column)
    d = column.type.list_size
    flat = column.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, d)


def list_l2_norms(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """L2 norm of every row of a list<float> column, without Python objects per value."""
    column = _combined(column)
    offsets = np.asarray(column.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    offsets = offsets - offsets[0]
    values = np.asarray(column.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
    squares = np.concatenate([[0.0], np.cumsum(values * values)])
    return np.sqrt(squares[offsets[1:]] - squares[offsets[:-1]]).astype(np.float32)


def with_stage_metadata(table: pa.Table, envelope: BaseModel) -> pa.Table:
    """Attach a stage envelope (counts, latency, decisions) to a table's schema metadata.

    The envelope travels with the Parquet file, so a later stage reads it without
    loading the rows."""
    meta = dict(table.schema.metadata or {})
    meta[STAGE_METADATA_KEY] = json.dumps(envelope.model_dump(mode="json"), sort_keys=True).encode("utf-8")
    return table.replace_schema_metadata(meta)


def stage_metadata(schema: pa.Schema) -> dict[str, Any]:
    """The raw envelope of a table's schema (empty when it has none)."""
    raw = (schema.metadata or {}).get(STAGE_METADATA_KEY)
    return json.loads(raw) if raw else {}
