"""Typed stage envelopes: what each stage tells the next ones, carried in its table's
schema metadata (so a later stage reads it without loading the rows)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import pyarrow as pa
from pydantic import BaseModel, Field, TypeAdapter

from ..devices.events import BatchEvent
from ..storage.arrow import stage_metadata
from .models import ChunksStage, DenseStage, FusionStage, SparseInferenceRun, SparseStage, ToggleDecision


class ChunksEnvelope(BaseModel):
    kind: Literal["chunks"] = "chunks"
    stage: ChunksStage


class DenseEnvelope(BaseModel):
    kind: Literal["dense"] = "dense"
    stage: DenseStage
    peak_vram_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)


class SparseEnvelope(BaseModel):
    kind: Literal["sparse"] = "sparse"
    enabled: bool
    decision: ToggleDecision
    stage: SparseStage | None = Field(default=None, description="Present when the stage ran.")
    sparse_run: SparseInferenceRun | None = Field(default=None, description="Present when the stage ran.")
    peak_vram_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)


class FusionEnvelope(BaseModel):
    kind: Literal["fusion"] = "fusion"
    stage: FusionStage
    sparse_enabled: bool


StageEnvelope = Annotated[ChunksEnvelope | DenseEnvelope | SparseEnvelope | FusionEnvelope,
                          Field(discriminator="kind")]
_ADAPTER: TypeAdapter[StageEnvelope] = TypeAdapter(StageEnvelope)
E = TypeVar("E", ChunksEnvelope, DenseEnvelope, SparseEnvelope, FusionEnvelope)


class MissingEnvelope(ValueError):
    """A stored stage table without the envelope its stage attaches (or with another stage's)."""


def read_any_envelope(schema: pa.Schema) -> StageEnvelope:
    """The envelope a stage attached to its table, whichever stage it was."""
    raw = stage_metadata(schema)
    if not raw:
        raise MissingEnvelope("the table carries no stage envelope; re-materialize the asset that wrote it")
    return _ADAPTER.validate_python(raw)


def read_envelope(schema: pa.Schema, expected: type[E]) -> E:
    """The envelope of the ``expected`` stage attached to a table."""
    envelope = read_any_envelope(schema)
    if not isinstance(envelope, expected):
        raise MissingEnvelope(f"expected a {expected.__name__}, found a {type(envelope).__name__}")
    return envelope
