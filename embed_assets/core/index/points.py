"""From an export's rows to validated points, each with a content fingerprint.

The fingerprint covers everything a point stores except the export version it was written
from: the dense vector, every sparse vector of the schema, and the payload. Comparing the
fingerprints in an index with the export's tells exactly which points to write and which
to delete. Vectors are validated before they reach an engine: Edge panics (and keeps
panicking on every reopen) on a sparse vector whose indices and values differ in length.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ..encode.vectors import SparseVector
from ..storage.arrow import vectors_from_column
from .ids import point_id
from .store import LEXICAL, SPLADE, IndexPoint, IndexSchema

SPARSE_COLUMNS = {SPLADE: ("sparse_indices", "sparse_values"), LEXICAL: ("lexical_indices", "lexical_values")}
PAYLOAD_COLUMNS = ("chunk_id", "doc_id", "title", "source_path", "ordinal")
MAX_INDEX = 2**32 - 1


class InvalidVector(ValueError):
    """A vector an engine would reject or store wrongly; nothing of the batch is written."""


class _ListColumn:
    """A list column as flat NumPy values and offsets (no Python object per value)."""

    def __init__(self, column: pa.ChunkedArray, dtype: Any) -> None:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        self.offsets = np.asarray(array.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
        self.values = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=dtype)
        self.valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i]:self.offsets[i + 1]] if self.valid[i] else self.values[:0]


def sparse_vector(indices: np.ndarray, values: np.ndarray, where: str) -> SparseVector:
    """Sorted, unique, in range and finite; anything else raises :class:`InvalidVector`."""
    if indices.shape != values.shape:
        raise InvalidVector(f"{where}: {len(indices)} indices but {len(values)} values")
    if indices.size and (indices.min() < 0 or indices.max() > MAX_INDEX):
        raise InvalidVector(f"{where}: an index is outside 0..{MAX_INDEX}")
    if not np.all(np.isfinite(values)):
        raise InvalidVector(f"{where}: a value is not finite")
    order = np.argsort(indices, kind="stable")
    indices, values = indices[order], values[order]
    if indices.size > 1 and np.any(indices[1:] == indices[:-1]):
        raise InvalidVector(f"{where}: duplicate indices")
    return SparseVector(indices=indices.tolist(), values=values.astype(np.float32).tolist())


class ExportRows:
    """An export table read once: payload columns, the dense matrix and sparse columns."""

    def __init__(self, table: pa.Table, schema: IndexSchema, with_text: bool) -> None:
        names = set(table.column_names)
        missing = [c for v in schema.sparse for c in SPARSE_COLUMNS[v] if c not in names]
        if missing:
            raise InvalidVector(f"the export lacks the columns {missing} its manifest promises")
        self.schema = schema
        self.with_text = with_text
        self.columns = {c: table.column(c).to_pylist() for c in (*PAYLOAD_COLUMNS, *(("text",) if with_text else ()))}
        self.dense = vectors_from_column(table.column("dense"))
        if self.dense.shape[1] != schema.dense_size:
            raise InvalidVector(f"dense vectors have {self.dense.shape[1]} dims, the schema {schema.dense_size}")
        self.sparse = {v: (_ListColumn(table.column(i), np.int64), _ListColumn(table.column(w), np.float32))
                       for v, (i, w) in ((v, SPARSE_COLUMNS[v]) for v in schema.sparse)}
        self.point_ids = [point_id(c) for c in self.columns["chunk_id"]]
        if len(set(self.point_ids)) != len(self.point_ids):
            raise InvalidVector("the export repeats a chunk_id")

    def __len__(self) -> int:
        return len(self.point_ids)

    def _payload(self, i: int) -> dict[str, Any]:
        return {c: values[i] for c, values in self.columns.items()}

    def _parts(self, i: int) -> tuple[np.ndarray, dict[str, SparseVector]]:
        dense = self.dense[i]
        chunk = self.columns["chunk_id"][i]
        if not np.all(np.isfinite(dense)):
            raise InvalidVector(f"chunk {chunk}: the dense vector is not finite")
        sparse = {}
        for name, (idx, val) in self.sparse.items():
            vector = sparse_vector(idx.row(i), val.row(i), f"chunk {chunk} {name}")
            if vector.indices:
                sparse[name] = vector
        return dense, sparse

    def fingerprint(self, i: int) -> str:
        dense, sparse = self._parts(i)
        digest = hashlib.sha256(np.ascontiguousarray(dense, dtype=np.float32).tobytes())
        for name in self.schema.sparse:
            vector = sparse.get(name)
            digest.update(name.encode())
            if vector is not None:
                digest.update(np.asarray(vector.indices, dtype=np.int64).tobytes())
                digest.update(np.asarray(vector.values, dtype=np.float32).tobytes())
        digest.update(json.dumps(self._payload(i), sort_keys=True, ensure_ascii=False).encode())
        return digest.hexdigest()[:32]

    def fingerprints(self) -> dict[str, str]:
        """Point id → fingerprint for every row (validates every vector on the way)."""
        return {pid: self.fingerprint(i) for i, pid in enumerate(self.point_ids)}

    def point(self, i: int, fingerprint: str, export_version: str) -> IndexPoint:
        dense, sparse = self._parts(i)
        payload = {**self._payload(i), "export_version": export_version, "fingerprint": fingerprint}
        return IndexPoint(point_id=self.point_ids[i], dense=dense, sparse=sparse, payload=payload)

    def batches(self, point_ids: Sequence[str], fingerprints: dict[str, str], export_version: str,
                size: int = 256) -> Iterator[list[IndexPoint]]:
        """The points of ``point_ids`` in export order, ``size`` at a time."""
        wanted = set(point_ids)
        rows = [i for i, pid in enumerate(self.point_ids) if pid in wanted]
        for start in range(0, len(rows), size):
            yield [self.point(i, fingerprints[self.point_ids[i]], export_version) for i in rows[start:start + size]]
