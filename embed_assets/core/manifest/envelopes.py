"""Typed stage envelopes: what each stage tells the next ones, carried in its table's
schema metadata (so a later stage reads it without loading the rows)."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import pyarrow as pa
from pydantic import BaseModel, Field, TypeAdapter

from ..devices.events import BatchEvent
from ..encode.shards import ShardSpec
from ..encode.sparse import SparseInferenceResult
from ..storage.arrow import stage_metadata
from .models import ChunksStage, DenseStage, FusionStage, SparseInferenceRun, SparseStage, ToggleDecision


class ChunksLineage(BaseModel):
    """The chunks a stage's rows were computed from. Every stage copies it from the chunks
    table it read, so the summary can prove that all tables it merges agree."""

    chunks_sha256: str = Field(description="sha256 over the chunk ids, in order.")
    inputs_sha256: str = Field(description="Fingerprint of the collection's input files.")
    folder_state: str = Field(default="", description="Paths, sizes and times of the input files before they were "
                                                      "read (what the change sensor compares).")
    run_id: str = Field(description="The Dagster run that wrote these chunks.")

    def describe(self) -> str:
        return f"chunks {self.chunks_sha256[:12]} of inputs {self.inputs_sha256[:12]} (run {self.run_id[:8]})"


class ChunksEnvelope(BaseModel):
    kind: Literal["chunks"] = "chunks"
    stage: ChunksStage
    lineage: ChunksLineage


class DenseEnvelope(BaseModel):
    kind: Literal["dense"] = "dense"
    lineage: ChunksLineage
    stage: DenseStage
    peak_vram_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)


class SparseEnvelope(BaseModel):
    kind: Literal["sparse"] = "sparse"
    lineage: ChunksLineage
    enabled: bool
    decision: ToggleDecision
    stage: SparseStage | None = Field(default=None, description="Present when the stage ran.")
    sparse_run: SparseInferenceRun | None = Field(default=None, description="Present when the stage ran.")
    peak_vram_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)


class DenseShardEnvelope(BaseModel):
    """One shard of the dense stage: its distinct chunks' per-model vectors, for the merge."""

    kind: Literal["dense_shard"] = "dense_shard"
    lineage: ChunksLineage
    shard: ShardSpec
    stage: DenseStage = Field(description="The shard's figures (count: its distinct chunks).")
    peak_vram_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)


class SparseShardEnvelope(BaseModel):
    """One shard of the sparse stage: its distinct chunks' vectors and how they were made."""

    kind: Literal["sparse_shard"] = "sparse_shard"
    lineage: ChunksLineage
    shard: ShardSpec
    result: SparseInferenceResult = Field(description="Figures of the shard's encoding (no vectors, no sources).")
    latency_ms: float


class FusionEnvelope(BaseModel):
    kind: Literal["fusion"] = "fusion"
    lineage: ChunksLineage
    stage: FusionStage
    sparse_enabled: bool


StageEnvelope = Annotated[ChunksEnvelope | DenseEnvelope | SparseEnvelope | FusionEnvelope | DenseShardEnvelope
                          | SparseShardEnvelope, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[StageEnvelope] = TypeAdapter(StageEnvelope)
E = TypeVar("E", ChunksEnvelope, DenseEnvelope, SparseEnvelope, FusionEnvelope, DenseShardEnvelope,
            SparseShardEnvelope)


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


def lineage_of(chunks: pa.Table) -> ChunksLineage:
    """The lineage a stage inherits from the chunks table it reads."""
    return read_envelope(chunks.schema, ChunksEnvelope).lineage


def lineage_problems(envelopes: dict[str, ChunksEnvelope | DenseEnvelope | SparseEnvelope | FusionEnvelope],
                     run_id: str | None = None) -> list[str]:
    """Why the stage tables do not belong together: any table computed from other chunks
    than the chunks table's, or — when ``run_id`` is given, because this run wrote the
    chunks — chunks written by another run (a concurrent run of the same collection)."""
    chunks = envelopes["chunks"].lineage
    problems = [f"{name} was computed from {env.lineage.describe()}, but the current chunks are {chunks.describe()}; "
                f"re-materialize {name}" for name, env in envelopes.items() if env.lineage != chunks]
    if run_id is not None and chunks.run_id != run_id:
        problems.append(f"the chunks were rewritten by run {chunks.run_id[:8]} while this run ({run_id[:8]}) was "
                        "going; another run of this collection is materializing it")
    return problems
