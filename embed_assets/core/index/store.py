"""The store interface every index backend implements, and the value objects at its
boundary: the schema, points, queries, results and a description.

One store is one physical collection (an Edge shard folder, a server collection). Which
one readers see, and how a new version replaces it, is the business of the publishers
(:mod:`.versions` for Edge, :mod:`.aliases` for a server).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..encode.vectors import SparseVector

DENSE = "dense"
SPLADE = "splade"
LEXICAL = "lexical"
SPARSE_NAMES = (SPLADE, LEXICAL)
Backend = Literal["edge", "qdrant"]
SearchKind = Literal["exact", "hnsw"]


class IndexSchema(BaseModel):
    """Named vectors of a collection: ``dense`` (cosine) and the sparse ones present.

    No sparse vector carries the engine's IDF modifier: SPLADE weights are learned, and our
    lexical weights already hold the collection IDF (``encode.lexical``), so an engine IDF
    on top would count it twice."""

    model_config = ConfigDict(frozen=True)

    dense_size: int = Field(gt=0)
    sparse: tuple[str, ...] = ()

    @field_validator("sparse")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if set(value) - set(SPARSE_NAMES) or len(set(value)) != len(value):
            raise ValueError(f"sparse vectors must be distinct names among {SPARSE_NAMES}, got {value}")
        return tuple(sorted(value))

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> IndexSchema:
        """What a collection's manifest says its vectors are."""
        stages = manifest["stages"]
        sparse = []
        if "sparse" in stages:
            sparse.append(SPLADE)
            if stages["sparse"].get("lexical"):
                sparse.append(LEXICAL)
        return cls(dense_size=int(stages["dense"]["dim"]), sparse=tuple(sparse))

    @property
    def vectors(self) -> tuple[str, ...]:
        return (DENSE, *self.sparse)


class IndexPoint(BaseModel):
    """One chunk as a point: its id (a UUID), vectors and payload (validated on creation)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    point_id: str
    dense: np.ndarray
    sparse: dict[str, SparseVector] = Field(default_factory=dict, description="Empty vectors are left out.")
    payload: dict[str, Any]


class StoredPoint(BaseModel):
    """A point as read back from a store."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    point_id: str
    payload: dict[str, Any]
    dense: np.ndarray | None = None
    sparse: dict[str, SparseVector] = Field(default_factory=dict)


class Fusion(BaseModel):
    """The engine's fusion of several named-vector searches. ``k`` is always explicit:
    a server's default RRF constant is 2, ours (as in the literature) 60."""

    model_config = ConfigDict(frozen=True)

    method: Literal["rrf", "dbsf"] = "rrf"
    k: int = Field(default=60, gt=0)
    weights: tuple[float, ...] | None = None


class VectorQuery(BaseModel):
    """A search of one named vector: ``dense`` for ``dense``, ``sparse`` for the others."""

    model_config = ConfigDict(frozen=True)

    name: str
    dense: tuple[float, ...] | None = None
    sparse: SparseVector | None = None

    @model_validator(mode="after")
    def _one(self) -> VectorQuery:
        if (self.dense is None) == (self.sparse is None) or (self.name == DENSE) != (self.dense is not None):
            raise ValueError(f"{self.name}: a dense query for 'dense', a sparse query for sparse vectors")
        return self


class HybridQuery(BaseModel):
    """One vector search, or several fused by the engine. ``exact`` forces brute force
    where the engine would use an HNSW graph (sparse search is always exact)."""

    model_config = ConfigDict(frozen=True)

    vectors: tuple[VectorQuery, ...] = Field(min_length=1)
    fusion: Fusion | None = None
    limit: int = Field(default=10, gt=0)
    prefetch_limit: int = Field(default=100, gt=0)
    exact: bool = False
    payload: tuple[str, ...] = ("chunk_id", "doc_id")

    @model_validator(mode="after")
    def _fusion(self) -> HybridQuery:
        if len(self.vectors) > 1 and self.fusion is None:
            raise ValueError("several vectors need a fusion")
        if self.fusion and self.fusion.weights and len(self.fusion.weights) != len(self.vectors):
            raise ValueError("one fusion weight per vector")
        return self


class ScoredChunk(BaseModel):
    chunk_id: str
    doc_id: str
    score: float
    payload: dict[str, Any] = Field(default_factory=dict)


class StoreDescription(BaseModel):
    """What a store holds and how it searches (never credentials)."""

    backend: Backend
    location: str = Field(description="Folder or URL, credentials redacted.")
    collection_name: str
    points: int
    index_schema: IndexSchema | None = None
    segments: int | None = None
    dense_indexed: int | None = Field(default=None, description="Dense vectors in an HNSW graph.")
    search: SearchKind = "exact"


class StoreError(RuntimeError):
    """The engine refused or failed an operation; the store must not be published."""


class VectorStore(abc.ABC):
    """One physical collection. Not thread-safe; one opener per Edge folder (see ``locks``)."""

    backend: Backend

    @abc.abstractmethod
    def ensure_schema(self, schema: IndexSchema) -> str:
        """Create the collection or evolve it to ``schema``; returns what was done."""

    @abc.abstractmethod
    def upsert(self, points: Sequence[IndexPoint]) -> int: ...

    @abc.abstractmethod
    def delete(self, point_ids: Sequence[str]) -> int: ...

    @abc.abstractmethod
    def query(self, query: HybridQuery) -> list[ScoredChunk]: ...

    @abc.abstractmethod
    def count(self) -> int: ...

    @abc.abstractmethod
    def fingerprints(self) -> dict[str, str]:
        """Every point's id and the content fingerprint in its payload."""

    @abc.abstractmethod
    def retrieve(self, point_ids: Sequence[str]) -> list[StoredPoint]:
        """Points with their vectors and payload (missing ids are left out)."""

    @abc.abstractmethod
    def describe(self) -> StoreDescription: ...

    def optimize(self) -> bool:
        """Merge segments and build indexes where the engine would; True if it did anything."""
        return False

    @abc.abstractmethod
    def close(self) -> None: ...

    def query_batch(self, queries: Sequence[HybridQuery]) -> list[list[ScoredChunk]]:
        return [self.query(q) for q in queries]

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
