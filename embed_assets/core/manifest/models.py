"""The processing manifest (``processing_summary.json``), versions 4.0 and 4.1.

4.1 is 4.0 plus the sparse sections (``stages.sparse`` and ``sparse_run``); every 4.0
field keeps its name, type and meaning, and the 4.0 JSON Schema admits unknown keys,
so a 4.0 reader reads a 4.1 manifest. The committed JSON Schema files are generated
from these models (see :mod:`.schemas`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from ..encode.backends.spec import BackendInfo, ProbeAgreement
from ..storage.exports import ExportEntry

SCHEMA_VERSION_DENSE = "4.0"
SCHEMA_VERSION_SPARSE = "4.1"
SCHEMA_VERSIONS = (SCHEMA_VERSION_DENSE, SCHEMA_VERSION_SPARSE)
SAMPLE_SIZE = 5
SAMPLE_TERMS = 32

ToggleSource = Literal["cli", "run_config", "environment", "default"]


class RunInfo(BaseModel):
    run_id: str = Field(description="This materialization's UUID.")
    dagster_run_id: str
    partition_key: str
    started_at: str = Field(description="ISO 8601, UTC.")
    finished_at: str = Field(description="ISO 8601, UTC.")
    package_version: str


class SkippedEntry(BaseModel):
    source_path: str
    doc_id: str | None = None
    reason: str
    detail: str = ""


class DocumentAccounting(BaseModel):
    seen: int = Field(ge=0)
    embedded: int = Field(ge=0)
    skipped: int = Field(ge=0)
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    skipped_documents: list[SkippedEntry] = Field(default_factory=list, description="Bounded sample; see skipped.")
    decoded_with_replacement: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _accounted(self) -> DocumentAccounting:
        if self.seen != self.embedded + self.skipped:
            raise ValueError(f"documents do not add up: seen {self.seen} != embedded {self.embedded} + "
                             f"skipped {self.skipped}")
        return self


class ChunksStage(BaseModel):
    count: int = Field(ge=0)
    documents: DocumentAccounting
    chunk_tokens: int
    overlap_tokens: int
    max_tokens: int = Field(description="The smallest model limit, in content tokens.")
    tokens_total: int
    tokens_max: int
    truncated_chunks: int = Field(default=0, description="Chunks longer than a model reads; kept at 0 by splitting.")
    truncated_share: float = Field(default=0.0, description="truncated_chunks / count (target 0).")
    tokenizer: str
    inputs_sha256: str = Field(default="", description="Fingerprint of the collection's input files.")
    latency_ms: float


class ModelEntry(BaseModel):
    key: str
    name: str
    source: str
    revision: str | None = None
    weights_sha256: str
    dim: int
    max_seq_length: int
    weight: float = 1.0
    backend: BackendInfo | None = Field(default=None, description=(
        "The encoder backend that produced the vectors: torch, onnx (fp32) or onnx-int8, its runtime and "
        "quantization (absent in manifests written before backends existed: torch)."))
    probe: ProbeAgreement | None = Field(default=None, description=(
        "The backend's probe-set vectors against the fp32 torch reference (absent for torch, the reference)."))

    @classmethod
    def of(cls, key: str, identity: Any, weight: float = 1.0) -> ModelEntry:
        """From a loaded model's identity (``embed_assets.core.models.ModelIdentity``)."""
        return cls(key=key, name=identity.name, source=identity.source, revision=identity.revision,
                   weights_sha256=identity.weights_sha256, dim=identity.dim,
                   max_seq_length=identity.max_seq_length, weight=weight,
                   backend=getattr(identity, "backend", None), probe=getattr(identity, "probe", None))


class BatchEventCounts(BaseModel):
    """How often the adaptive batcher acted in a stage (each event is also logged)."""

    halved_on_oom: int = 0
    halved_on_soft_limit: int = 0
    grown: int = 0
    device_fallbacks: int = 0
    metadata_fallbacks: int = 0

    @classmethod
    def of(cls, kinds: list[str]) -> BatchEventCounts:
        return cls(halved_on_oom=kinds.count("halve_on_oom"), halved_on_soft_limit=kinds.count("halve_on_soft_limit"),
                   grown=kinds.count("grow"), device_fallbacks=kinds.count("device_fallback"),
                   metadata_fallbacks=kinds.count("metadata_fallback"))


class DenseStage(BaseModel):
    count: int
    dim: int
    aggregation: str
    models: list[ModelEntry]
    devices: list[str]
    batch_size: int
    min_batch_size: int
    oom_retries: int = 0
    batch_events: BatchEventCounts = Field(default_factory=lambda: BatchEventCounts())
    unique_chunks: int = Field(default=0, description="Distinct chunk texts (identical chunks are encoded once).")
    encoded: int = Field(default=0, description="Distinct chunks encoded in this run; the rest came from the cache.")
    encode_ms: float = Field(default=0.0, description="Time inside model batches; latency_ms adds loading and IO.")
    latency_ms: float
    shards: int = Field(default=1, ge=1, description="Shards the distinct chunks were split into (separate steps, "
                                                     "merged before fusion).")


class LexicalStage(BaseModel):
    """The lexical (BM25-style) vectors exported beside SPLADE's, in the same token-id space."""

    count: int
    mean_nnz: float
    k1: float
    b: float
    title_boost: float
    heading_boost: float
    latency_ms: float


class SparseStage(BaseModel):
    count: int
    sparse_model: str
    model: ModelEntry | None = None
    devices: list[str]
    batch_size: int
    min_batch_size: int
    oom_retries: int = 0
    batch_events: BatchEventCounts = Field(default_factory=lambda: BatchEventCounts())
    unique_chunks: int = 0
    encoded: int = 0
    encode_ms: float = 0.0
    fallback_used: bool
    fallback_reason: str | None = None
    source_counts: dict[str, int]
    coverage: float = Field(description="Share of chunks whose sparse vector has at least one term.")
    mean_nnz: float
    lexical: LexicalStage | None = Field(default=None, description="Present when lexical vectors were exported.")
    latency_ms: float
    shards: int = Field(default=1, ge=1, description="Shards the distinct chunks were split into (separate steps, "
                                                     "merged before fusion).")


class FusionStage(BaseModel):
    count: int
    mode: Literal["hybrid", "dense_only"]
    method: Literal["vector"] = "vector"
    alpha: float = Field(description="Weight of the dense score: one dot product = α·dense + (1-α)·sparse.")
    dense_scale: float
    sparse_scale: float
    rrf_k: int = 60
    latency_ms: float


class ExportStage(BaseModel):
    files: int
    rows: int
    latency_ms: float


class ToggleDecision(BaseModel):
    enabled: bool
    decided_by: ToggleSource
    requested: dict[str, bool | None] = Field(description="What each source asked for (null: not set).")


class Activation(BaseModel):
    sparse: ToggleDecision
    dense_models: list[str]
    sparse_model: str = Field(description="The configured sparse model, whether or not it ran.")
    features: dict[str, bool]


class VramBudget(BaseModel):
    hard_cap_bytes: int
    soft_limit_bytes: int
    device: str


class StagePerformance(BaseModel):
    latency_ms: float
    throughput_per_s: float
    device: str
    peak_vram_bytes: int = 0
    soft_limit_exceeded: bool = False


class Performance(BaseModel):
    stages: dict[str, StagePerformance]
    total_wall_ms: float
    chunks_per_s: float
    vram_budget: VramBudget
    peak_vram_bytes: int
    soft_limit_exceeded: bool
    hard_cap_exceeded: bool


class StagesV40(BaseModel):
    chunks: ChunksStage
    dense: DenseStage
    fusion: FusionStage
    export: ExportStage


class StagesV41(StagesV40):
    sparse: SparseStage


class ProbeQuery(BaseModel):
    sha256: str
    length: int


class DocumentSparseSample(BaseModel):
    chunk_id: str
    source: str
    nnz: int
    terms: dict[str, float] = Field(description="Top terms: token id -> weight.")


class SparseInferenceRun(BaseModel):
    run_id: str
    sparse_model: str
    latency_ms: float
    fallback_used: bool
    query: ProbeQuery = Field(description="The probe query's hash and length; its text is never stored.")
    query_sparse_vector: dict[str, float] = Field(description="Token id -> weight for the probe query.")
    document_sparse_vectors: list[DocumentSparseSample] = Field(description="A bounded sample.")
    document_sparse_vectors_total: int
    document_sparse_vectors_export: str = Field(description="The export file that holds every vector.")


class ManifestV40(BaseModel):
    """The 4.0 reader. It reads every 4.x manifest, ignoring what later versions added
    (4.1 is strictly additive); whether the version matches the content is a validation
    question (``manifest.validation.version_problems``), not a reading one."""

    schema_version: str = Field(pattern=r"^4\.[0-9]+$")
    collection: str
    run: RunInfo
    stages: StagesV40
    activation: Activation
    performance: Performance
    exports: list[ExportEntry]


class ManifestV41(ManifestV40):
    stages: StagesV41
    sparse_run: SparseInferenceRun

    @model_validator(mode="after")
    def _version41(self) -> ManifestV41:
        if self.schema_version != SCHEMA_VERSION_SPARSE:
            raise ValueError(f"a manifest with sparse sections is version {SCHEMA_VERSION_SPARSE}, "
                             f"not {self.schema_version}")
        return self


MODEL_BY_VERSION: dict[str, type[ManifestV40]] = {SCHEMA_VERSION_DENSE: ManifestV40, SCHEMA_VERSION_SPARSE: ManifestV41}


def parse_manifest(data: dict[str, Any]) -> ManifestV40:
    version = data.get("schema_version")
    if version not in MODEL_BY_VERSION:
        raise ValueError(f"unknown manifest schema_version {version!r} (known: {', '.join(SCHEMA_VERSIONS)})")
    return MODEL_BY_VERSION[version].model_validate(data)
