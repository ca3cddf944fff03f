"""A Qdrant server or cluster (or the client's local mode) as a :class:`~.store.VectorStore`.

The client is configured by URL: ``http(s)://host:port`` for a server, ``file:///folder``
for the client's local mode (brute force, pure Python, one process per folder: for tests
and small experiments). The API key is handed to the client and nowhere else; locations
are reported with credentials removed (:func:`redact_url`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pydantic import SecretStr

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

KEYWORD_FIELDS = ("doc_id", "export_version")
SCROLL_PAGE = 1024


def redact_url(url: str) -> str:
    """``url`` without user, password, query or fragment (where keys are sometimes put)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return urlunsplit(("file", "", parts.path, "", ""))
    host = parts.hostname or ""
    netloc = ("***@" if parts.username or parts.password else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(url: str, api_key: SecretStr | None = None, timeout_s: int = 30) -> Any:
    """A client for ``url``; ``file:///folder`` opens the client's local mode there."""
    from qdrant_client import QdrantClient

    parts = urlsplit(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "API key used with an insecure connection"
        if parts.scheme == "file":
            return QdrantClient(path=parts.path)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"a Qdrant URL starts with http://, https:// or file://, not {redact_url(url)!r}")
        key = api_key.get_secret_value() if api_key is not None else None
        return QdrantClient(url=url, api_key=key, timeout=timeout_s, check_compatibility=False)


def client_models() -> Any:
    from qdrant_client import models

    return models


def call_client(action: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    """Client errors as StoreError with the exception's type only: messages and chained
    exceptions may quote requests, and requests carry the API key. Raised outside the
    ``except`` block so that no context is attached."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every client failure becomes a StoreError
        failure = type(exc).__name__
    raise StoreError(f"qdrant {action} failed ({failure})")


def _sparse(vector: SparseVector) -> Any:
    return client_models().SparseVector(indices=list(vector.indices), values=list(vector.values))


def schema_of(params: Any) -> IndexSchema:
    """The schema of a collection's ``config.params``."""
    vectors = params.vectors or {}
    return IndexSchema(dense_size=int(vectors[DENSE].size), sparse=tuple(params.sparse_vectors or {}))


class ServerStore(VectorStore):
    backend = "qdrant"

    def __init__(self, client: Any, collection: str, location: str, name: str | None = None) -> None:
        self.client = client
        self.collection = collection
        self.location = location
        self.name = name or collection

    # -- schema ----------------------------------------------------------------------
    def exists(self) -> bool:
        return bool(call_client("collection_exists", self.client.collection_exists, self.collection))

    def current_schema(self) -> IndexSchema:
        info = call_client("get_collection", self.client.get_collection, self.collection)
        return schema_of(info.config.params)

    def metadata(self) -> dict[str, Any]:
        info = call_client("get_collection", self.client.get_collection, self.collection)
        return dict(info.config.metadata or {})

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        call_client("update_collection", self.client.update_collection, self.collection, metadata=metadata)

    def ensure_schema(self, schema: IndexSchema) -> str:
        """Create the collection; one with another schema is dropped and created anew (a server
        cannot add or remove named vectors of a collection in place)."""
        m = client_models()
        if self.exists():
            if self.current_schema() == schema:
                return "unchanged"
            call_client("delete_collection", self.client.delete_collection, self.collection)
        call_client("create_collection", self.client.create_collection, self.collection,
                 vectors_config={DENSE: m.VectorParams(size=schema.dense_size, distance=m.Distance.COSINE)},
                 sparse_vectors_config={n: m.SparseVectorParams() for n in schema.sparse})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode: payload indexes are a no-op
            for field in KEYWORD_FIELDS:
                call_client("create_payload_index", self.client.create_payload_index, self.collection, field,
                         m.PayloadSchemaType.KEYWORD)
        return "created"

    # -- writes ----------------------------------------------------------------------
    def upsert(self, points: Sequence[IndexPoint]) -> int:
        if not points:
            return 0
        m = client_models()
        batch = [m.PointStruct(id=p.point_id, payload=p.payload,
                               vector={DENSE: p.dense.astype(np.float32).tolist(),
                                       **{n: _sparse(v) for n, v in p.sparse.items()}}) for p in points]
        call_client("upsert", self.client.upsert, self.collection, points=batch, wait=True)
        return len(batch)

    def delete(self, point_ids: Sequence[str]) -> int:
        if point_ids:
            call_client("delete", self.client.delete, self.collection,
                     points_selector=client_models().PointIdsList(points=list(point_ids)), wait=True)
        return len(point_ids)

    def close(self) -> None:
        """The client is shared by the publisher that made this store; it closes it."""

    # -- reads -----------------------------------------------------------------------
    def count(self) -> int:
        return int(call_client("count", self.client.count, self.collection, exact=True).count)

    def fingerprints(self) -> dict[str, str]:
        out: dict[str, str] = {}
        offset = None
        while True:
            records, offset = call_client("scroll", self.client.scroll, self.collection, limit=SCROLL_PAGE,
                                       offset=offset, with_payload=["fingerprint"], with_vectors=False)
            out.update({normalize_id(r.id): str((r.payload or {}).get("fingerprint", "")) for r in records})
            if offset is None:
                return out

    def retrieve(self, point_ids: Sequence[str]) -> list[StoredPoint]:
        records = call_client("retrieve", self.client.retrieve, self.collection, ids=list(point_ids),
                           with_payload=True, with_vectors=True)
        out = []
        for r in records:
            vectors = r.vector if isinstance(r.vector, dict) else {}
            sparse = {n: SparseVector(indices=list(v.indices), values=list(v.values))
                      for n, v in vectors.items() if n != DENSE}
            dense = np.asarray(vectors[DENSE], dtype=np.float32) if DENSE in vectors else None
            out.append(StoredPoint(point_id=normalize_id(r.id), payload=dict(r.payload or {}), dense=dense,
                                   sparse=sparse))
        return out

    def _prefetch_args(self, vq: VectorQuery) -> dict[str, Any]:
        vector = list(vq.dense) if vq.dense is not None else _sparse(vq.sparse)  # type: ignore[arg-type]
        return {"query": vector, "using": vq.name}

    def _request(self, query: HybridQuery) -> dict[str, Any]:
        m = client_models()
        params = m.SearchParams(exact=True) if query.exact else None
        common = {"limit": query.limit, "with_payload": list(query.payload)}
        if len(query.vectors) == 1:
            return {**common, **self._prefetch_args(query.vectors[0]), "search_params": params}
        fusion = query.fusion
        assert fusion is not None
        prefetch = [m.Prefetch(limit=query.prefetch_limit, params=params, **self._prefetch_args(v))
                    for v in query.vectors]
        engine = (m.RrfQuery(rrf=m.Rrf(k=fusion.k, weights=list(fusion.weights) if fusion.weights else None))
                  if fusion.method == "rrf" else m.FusionQuery(fusion=m.Fusion.DBSF))
        return {**common, "prefetch": prefetch, "query": engine}

    def query(self, query: HybridQuery) -> list[ScoredChunk]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode ignores search params, with a warning
            response = call_client("query_points", self.client.query_points, self.collection, **self._request(query))
        return [ScoredChunk(chunk_id=str((p.payload or {}).get("chunk_id", "")),
                            doc_id=str((p.payload or {}).get("doc_id", "")), score=float(p.score),
                            payload=dict(p.payload or {})) for p in response.points]

    def describe(self) -> StoreDescription:
        info = call_client("get_collection", self.client.get_collection, self.collection)
        points = int(info.points_count or 0)
        indexed = int(info.indexed_vectors_count or 0)
        hnsw = indexed > 0 and not isinstance(getattr(self.client, "_client", None), _local_type())
        return StoreDescription(backend="qdrant", location=self.location, collection_name=self.name,
                                points=points, index_schema=schema_of(info.config.params),
                                segments=int(info.segments_count or 0) or None, dense_indexed=indexed,
                                search="hnsw" if hnsw else "exact")


def _local_type() -> type:
    from qdrant_client.local.qdrant_local import QdrantLocal

    return QdrantLocal
