"""What an encoder backend is, as values: its name, runtime, precision and quantization
(:class:`BackendSpec`, what is asked for) and what actually ran (:class:`BackendInfo`,
recorded in the manifest and keying the embedding cache).

No runtime is imported here: these values cross every boundary (settings, resources,
stages, manifests) and must stay cheap.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ...settings import DEFAULT_ENCODER_BACKEND, EncoderBackend
from ...storage.hashing import sha256_hex

BackendName = EncoderBackend
BACKENDS: tuple[BackendName, ...] = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND: BackendName = DEFAULT_ENCODER_BACKEND
Precision = Literal["fp32", "fp16", "int8"]
Runtime = Literal["torch", "onnxruntime"]


class QuantizationSettings(BaseModel):
    """ONNX Runtime dynamic quantization: int8 weights per output channel, activations
    quantized per tensor at run time. Every field is part of the model cache key."""

    model_config = ConfigDict(frozen=True)

    method: Literal["dynamic"] = "dynamic"
    weight_type: Literal["QInt8", "QUInt8"] = "QInt8"
    per_channel: bool = True
    reduce_range: bool = False
    op_types: tuple[str, ...] = Field(default=(), description="Operator types to quantize (empty: the "
                                                                "quantizer's defaults, MatMul and Gather).")
    fp32_ffn_outputs: int = Field(default=2, ge=0, description=(
        "Feed-forward output projections of the first N transformer layers kept in fp32. Their inputs (after "
        "the activation) have the widest range, so one per-tensor int8 scale loses most there: keeping two in "
        "fp32 raises the dense cosine minimum from 0.990 to 0.993 on real text, for ~9% of the speed."))


class BackendSpec(BaseModel):
    """A configured backend: what runs the graph and at which precision."""

    model_config = ConfigDict(frozen=True)

    name: BackendName
    runtime: Runtime
    precision: Precision
    quantization: QuantizationSettings | None = None
    max_batch: int | None = Field(default=None, description=(
        "Most texts per runtime call. 1 for dynamic int8: its activation scale is computed over the "
        "whole batch, so only batches of one give every text the same vector whatever its batch-mates."))

    @property
    def is_torch(self) -> bool:
        return self.runtime == "torch"


def backend_spec(name: str) -> BackendSpec:
    """The spec of a backend name; ``ValueError`` for an unknown one."""
    if name == "torch":
        return BackendSpec(name="torch", runtime="torch", precision="fp32")
    if name == "onnx":
        return BackendSpec(name="onnx", runtime="onnxruntime", precision="fp32", max_batch=4)
    if name == "onnx-int8":
        return BackendSpec(name="onnx-int8", runtime="onnxruntime", precision="int8",
                           quantization=QuantizationSettings(), max_batch=1)
    raise ValueError(f"unknown encoder backend {name!r}; use one of {', '.join(BACKENDS)}")


class ProbeAgreement(BaseModel):
    """A backend's vectors for the fixed probe texts against the fp32 torch reference."""

    probes: int
    dense_cosine_min: float | None = Field(default=None, description="Dense: the lowest cosine to the reference.")
    dense_cosine_mean: float | None = None
    sparse_top_overlap_min: float | None = Field(default=None, description=(
        "Sparse: the lowest share of the reference's top terms that this backend also ranks in its top terms."))
    sparse_top_overlap_mean: float | None = None
    sparse_cosine_min: float | None = None
    top_terms: int = 32
    tolerance: dict[str, float] = Field(default_factory=dict, description="The thresholds it was held to.")
    passed: bool


class BackendInfo(BaseModel):
    """What encoded a model's vectors. Recorded in the manifest's model entries and part of
    the embedding cache key: vectors from different backends differ."""

    model_config = ConfigDict(frozen=True)

    name: BackendName
    requested: BackendName = Field(description="The configured backend (differs from name after a fallback).")
    runtime: Runtime
    runtime_version: str
    precision: Precision
    quantization: dict[str, Any] | None = None
    artifact_key: str | None = Field(default=None, description="The model cache key of the graph that ran.")
    artifact_sha256: str | None = None
    export_s: float | None = Field(default=None, description="How long building the cached graph took, once.")
    threads: int | None = None
    max_batch: int | None = None
    fallback_reason: str | None = None

    @property
    def cache_tag(self) -> str:
        """The embedding cache's suffix: empty for torch (the cache files it always had),
        else the backend and a digest of its graph and runtime version."""
        if self.runtime == "torch":
            return ""
        digest = sha256_hex(f"{self.artifact_key}|{self.runtime}|{self.runtime_version}|{self.precision}")
        return f"{self.name}-{digest[:12]}"


def torch_info(version: str, *, requested: BackendName = "torch", threads: int | None = None,
               fallback_reason: str | None = None) -> BackendInfo:
    return BackendInfo(name="torch", requested=requested, runtime="torch", runtime_version=version,
                       precision="fp32", threads=threads, fallback_reason=fallback_reason)
