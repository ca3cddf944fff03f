"""The embedded engine: one Edge shard folder as a :class:`~.store.VectorStore`.

Opening a folder is only safe for one process at a time (``load`` rewrites files before
the engine takes its own lock), so callers open folders through :mod:`.versions`, which
holds a per-folder lock first. Search is brute force (exact) until ``optimize`` builds an
HNSW graph, which the engine does only for segments whose dense vectors exceed the
indexing threshold. The engine's default is 10,000 KB (about 6,600 points of 384 dims);
ours is 30,000 KB (about 20,000 points): at 10,000 points brute force took 0.8 ms a query
against 0.7 ms through a graph, so below that the graph buys no speed and costs recall.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ..encode.vectors import SparseVector
from .ids import normalize_id
from .store import (
    DENSE,
    HybridQuery,
    IndexPoint,
    IndexSchema,
    ScoredChunk,
    StoreDescription,
    StoredPoint,
    StoreError,
    VectorQuery,
    VectorStore,
)

CONFIG_FILE = "edge_config.json"
KEYWORD_FIELDS = ("doc_id", "export_version")
SCROLL_PAGE = 1024
DEFAULT_INDEXING_THRESHOLD_KB = 30_000


class EdgeTuning(BaseModel):
    """Engine settings fixed when a shard is created (None: the engine's default)."""

    indexing_threshold_kb: int = Field(default=DEFAULT_INDEXING_THRESHOLD_KB, gt=0,
                                       description="Segments with more dense data than this get an HNSW graph.")
    full_scan_threshold_kb: int | None = None
    max_search_threads: int | None = None

    def threshold_points(self, dense_size: int) -> int:
        """Points above which ``optimize`` builds an HNSW graph for a segment."""
        return self.indexing_threshold_kb * 1024 // (4 * dense_size)


def _qe() -> Any:
    import qdrant_edge

    return qdrant_edge


def _guarded(action: str, call: Any, *args: Any) -> Any:
    """Run an engine call; its Rust panics (BaseException, not Exception) become StoreError."""
    try:
        return call(*args)
    except Exception as exc:
        raise StoreError(f"edge {action} failed: {exc}") from exc
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            raise StoreError(f"edge {action} panicked; this shard folder must be discarded") from exc
        raise


def _sparse(vector: SparseVector) -> Any:
    return _qe().SparseVector(indices=list(vector.indices), values=list(vector.values))


class EdgeStore(VectorStore):
    backend = "edge"

    def __init__(self, folder: Path, shard: Any, name: str) -> None:
        self.folder = folder
        self.name = name
        self._shard = shard

    @classmethod
    def open(cls, folder: Path, name: str) -> EdgeStore:
        """Load an existing shard folder (the caller holds its lock)."""
        return cls(folder, _guarded("load", _qe().EdgeShard.load, str(folder)), name)

    @classmethod
    def create(cls, folder: Path, name: str, schema: IndexSchema, tuning: EdgeTuning | None = None) -> EdgeStore:
        qe, tuning = _qe(), tuning or EdgeTuning()
        optimizers = qe.EdgeOptimizersConfig(indexing_threshold=tuning.indexing_threshold_kb)
        hnsw = (qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=tuning.full_scan_threshold_kb)
                if tuning.full_scan_threshold_kb else None)
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=schema.dense_size, distance=qe.Distance.Cosine)},
            sparse_vectors={name_: qe.EdgeSparseVectorParams() for name_ in schema.sparse},
            optimizers=optimizers, hnsw_config=hnsw, max_search_threads=tuning.max_search_threads)
        store = cls(folder, _guarded("create", qe.EdgeShard.create, str(folder), config), name)
        for field in KEYWORD_FIELDS:
            store._update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
        return store

    def _update(self, operation: Any) -> None:
        _guarded("update", self._shard.update, operation)

    # -- schema ----------------------------------------------------------------------
    def current_schema(self) -> IndexSchema:
        """The schema the engine persisted with the shard."""
        config = json.loads((self.folder / CONFIG_FILE).read_text("utf-8"))
        return IndexSchema(dense_size=int(config["vectors"][DENSE]["size"]),
                           sparse=tuple(config.get("sparse_vectors") or {}))

    def ensure_schema(self, schema: IndexSchema) -> str:
        current = self.current_schema()
        if current == schema:
            return "unchanged"
        if current.dense_size != schema.dense_size:
            raise StoreError(f"dense size {current.dense_size} cannot become {schema.dense_size}; build anew")
        qe = _qe()
        for name in set(schema.sparse) - set(current.sparse):
            self._update(qe.UpdateOperation.create_sparse_vector(name))
        for name in set(current.sparse) - set(schema.sparse):
            self._update(qe.UpdateOperation.delete_vector_name(name))
        self.flush()
        return "evolved"

    # -- writes ----------------------------------------------------------------------
    def upsert(self, points: Sequence[IndexPoint]) -> int:
        if not points:
            return 0
        qe = _qe()
        batch = [qe.Point(id=p.point_id, payload=p.payload,
                          vector={DENSE: p.dense.astype(np.float32).tolist(),
                                  **{n: _sparse(v) for n, v in p.sparse.items()}}) for p in points]
        self._update(qe.UpdateOperation.upsert_points(batch))
        return len(batch)

    def delete(self, point_ids: Sequence[str]) -> int:
        if point_ids:
            self._update(_qe().UpdateOperation.delete_points(list(point_ids)))
        return len(point_ids)

    def optimize(self) -> bool:
        return bool(_guarded("optimize", self._shard.optimize))

    def flush(self) -> None:
        _guarded("flush", self._shard.flush)

    def close(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            _guarded("close", shard.close)

    # -- reads -----------------------------------------------------------------------
    def count(self) -> int:
        return int(_guarded("count", self._shard.count, _qe().CountRequest(exact=True)))

    def fingerprints(self) -> dict[str, str]:
        qe, out, offset = _qe(), {}, None
        while True:
            request = qe.ScrollRequest(offset=offset, limit=SCROLL_PAGE, with_payload=["fingerprint"],
                                       with_vector=False)
            records, offset = _guarded("scroll", self._shard.scroll, request)
            out.update({normalize_id(r.id): str((r.payload or {}).get("fingerprint", "")) for r in records})
            if offset is None:
                return out

    def retrieve(self, point_ids: Sequence[str]) -> list[StoredPoint]:
        records = _guarded("retrieve", self._shard.retrieve, list(point_ids), True, True)
        out = []
        for r in records:
            vectors = r.vector or {}
            sparse = {n: SparseVector(indices=list(v.indices), values=list(v.values))
                      for n, v in vectors.items() if n != DENSE}
            dense = np.asarray(vectors[DENSE], dtype=np.float32) if DENSE in vectors else None
            out.append(StoredPoint(point_id=normalize_id(r.id), payload=dict(r.payload or {}), dense=dense,
                                   sparse=sparse))
        return out

    def _nearest(self, vq: VectorQuery) -> Any:
        qe = _qe()
        vector = list(vq.dense) if vq.dense is not None else _sparse(vq.sparse)  # type: ignore[arg-type]
        return qe.Query.Nearest(vector, using=vq.name)

    def _request(self, query: HybridQuery) -> Any:
        qe = _qe()
        params = qe.SearchParams(exact=True) if query.exact else None
        payload = list(query.payload)
        if len(query.vectors) == 1:
            return qe.QueryRequest(limit=query.limit, query=self._nearest(query.vectors[0]), with_payload=payload,
                                   params=params)
        fusion = query.fusion
        assert fusion is not None
        prefetches = [qe.Prefetch(limit=query.prefetch_limit, query=self._nearest(v), params=params)
                      for v in query.vectors]
        method = (qe.Fusion.Rrf(k=fusion.k, weights=list(fusion.weights) if fusion.weights else None)
                  if fusion.method == "rrf" else qe.Fusion.Dbsf())
        return qe.QueryRequest(limit=query.limit, prefetches=prefetches, query=method, with_payload=payload)

    def query(self, query: HybridQuery) -> list[ScoredChunk]:
        return _scored(_guarded("query", self._shard.query, self._request(query)))

    def query_batch(self, queries: Sequence[HybridQuery]) -> list[list[ScoredChunk]]:
        request = _qe().QueryBatchRequest([self._request(q) for q in queries])
        return [_scored(points) for points in _guarded("query", self._shard.query_batch, request)]

    def describe(self) -> StoreDescription:
        info = _guarded("info", self._shard.info)
        graphs = self.dense_graph_segments()
        return StoreDescription(backend="edge", location=str(self.folder), collection_name=self.name,
                                points=int(info.points_count), index_schema=self.current_schema(),
                                segments=int(info.segments_count), search="hnsw" if graphs else "exact")

    def dense_graph_segments(self) -> int:
        """Segments whose dense vectors are searched through an HNSW graph. The Python API of
        this engine version does not say; each segment's persisted config does."""
        count = 0
        for path in (self.folder / "segments").glob("*/segment.json"):
            config = json.loads(path.read_text("utf-8")).get("config", {})
            index = config.get("vector_data", {}).get(DENSE, {}).get("index", {})
            count += index.get("type") == "hnsw"
        return count


def _scored(points: Sequence[Any]) -> list[ScoredChunk]:
    return [ScoredChunk(chunk_id=str((p.payload or {}).get("chunk_id", "")), doc_id=str((p.payload or {}).get(
        "doc_id", "")), score=float(p.score), payload=dict(p.payload or {})) for p in points]
