"""The embedding cache: a collection's vectors from its last run, keyed by the model's
weights fingerprint and the chunk's content hash.

Vectors from different encoder backends differ (int8 notably), so a backend other than
torch adds its tag to the file name: switching backend re-encodes, switching back finds
the earlier backend's file untouched. A re-run encodes only new or changed chunks; identical chunks within a run are encoded
once. Each cache file holds exactly the current chunks, so removed chunks leave it (and
the exports) with the run that no longer has them. It has one writer: a sharded stage's
shards only read it, its merge rewrites it. Files are Parquet, written atomically; nothing
is pickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..storage.arrow import fixed_size_vectors, vectors_from_column
from ..storage.files import atomic_write_parquet


def cache_name(kind: str, fingerprint: str, tag: str = "") -> str:
    return f"{kind}-{fingerprint[:24]}{'-' + tag if tag else ''}.parquet"


class DenseCache:
    def __init__(self, folder: Path, fingerprint: str, dim: int, tag: str = "") -> None:
        self.path = folder / cache_name("dense", fingerprint, tag)
        self.dim = dim

    def load(self) -> dict[str, np.ndarray]:
        if not self.path.is_file():
            return {}
        table = pq.read_table(self.path)
        if table.schema.field("vector").type.list_size != self.dim:
            return {}
        vectors = vectors_from_column(table.column("vector"))
        return dict(zip(table.column("content_hash").to_pylist(), vectors))

    def save(self, hashes: list[str], matrix: np.ndarray) -> None:
        atomic_write_parquet(self.path, pa.table({"content_hash": pa.array(hashes, type=pa.string()),
                                                  "vector": fixed_size_vectors(matrix)}))


@dataclass
class SparseCacheView:
    table: pa.Table
    rows: dict[str, int]


class SparseCache:
    def __init__(self, folder: Path, fingerprint: str, tag: str = "") -> None:
        self.path = folder / cache_name("sparse", fingerprint, tag)

    def load(self) -> SparseCacheView:
        """The cached rows as Arrow, with a hash → row lookup (no Python vectors)."""
        if not self.path.is_file():
            return SparseCacheView(pa.table({"content_hash": pa.array([], pa.string())}), {})
        table = pq.read_table(self.path)
        return SparseCacheView(table, {h: i for i, h in enumerate(table.column("content_hash").to_pylist())})

    def save_table(self, hashes: pa.Table, vectors: pa.Table) -> None:
        atomic_write_parquet(self.path, pa.table({
            "content_hash": hashes.column("content_hash"),
            "indices": vectors.column("sparse_indices"),
            "values": vectors.column("sparse_values"),
            "source": vectors.column("sparse_source"),
        }))


def unique_first(hashes: list[str]) -> tuple[list[int], np.ndarray]:
    """Indices of the first occurrence of each distinct hash, and for every item the
    position of its hash among those first occurrences."""
    position: dict[str, int] = {}
    firsts: list[int] = []
    inverse = np.empty(len(hashes), dtype=np.int64)
    for i, h in enumerate(hashes):
        pos = position.get(h)
        if pos is None:
            pos = position[h] = len(firsts)
            firsts.append(i)
        inverse[i] = pos
    return firsts, inverse
