"""What an index version records about itself: which export it was written from, its
schema, and how queries must be encoded to search it (the collection's models), so an
application can search the index knowing only where it is."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field

from .store import IndexSchema, SearchKind


class EncoderModel(BaseModel):
    name: str = Field(description="The model reference the collection was encoded with.")
    weight: float = 1.0
    weights_sha256: str = ""
    backend: str | None = Field(default=None, description="The encoder backend that ran (torch, onnx, onnx-int8); "
                                                          "queries are encoded on it. None: torch.")


def _backend(entry: dict[str, Any]) -> str | None:
    """The backend a manifest model entry records as having run (None before backends existed)."""
    return (entry.get("backend") or {}).get("name")


class QueryEncoding(BaseModel):
    """The models and aggregation the collection's vectors came from."""

    dense_models: list[EncoderModel]
    aggregation: str = "weighted_concat"
    sparse_model: EncoderModel | None = Field(default=None, description="SPLADE; None when sparse vectors "
                                                                        "came from the metadata fallback or are off.")
    lexical_tokenizer: str | None = Field(default=None, description="Model whose tokenizer lexical vectors use.")

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> QueryEncoding:
        dense = manifest["stages"]["dense"]
        models = [EncoderModel(name=m["name"], weight=m.get("weight", 1.0), weights_sha256=m.get("weights_sha256", ""),
                               backend=_backend(m)) for m in dense["models"]]
        sparse_stage = manifest["stages"].get("sparse") or {}
        sparse = sparse_stage.get("model")
        sparse_model = (EncoderModel(name=sparse["name"], weights_sha256=sparse.get("weights_sha256", ""),
                                     backend=_backend(sparse)) if sparse else None)
        tokenizer = None
        if sparse_stage:
            tokenizer = sparse_model.name if sparse_model else models[0].name
        return cls(dense_models=models, aggregation=dense.get("aggregation", "weighted_concat"),
                   sparse_model=sparse_model, lexical_tokenizer=tokenizer)


class IndexState(BaseModel):
    """One published index version."""

    collection: str
    index_version: int = Field(ge=1)
    export_version: str = Field(description="The export the index was last written from.")
    index_schema: IndexSchema
    encoding: QueryEncoding
    points: int
    with_text: bool = False
    search: SearchKind = "exact"
    created_at: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    def same_content_settings(self, other: IndexState) -> bool:
        return (self.index_schema, self.encoding, self.with_text) == (other.index_schema, other.encoding,
                                                                       other.with_text)
