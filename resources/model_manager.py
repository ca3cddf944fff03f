"""``ModelManagerResource``: loads each model once per process on its encoder backend
(torch, or ONNX Runtime fp32/int8 graphs from the model cache), keeps sparse models on the
CPU, moves a model to a GPU only for the span of a lease, and hands the stages typed
objects: loaded dense models, a :class:`SparseModelChoice`, tokenizer limits, stage settings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field, field_validator

from embed_assets.core.devices.lease import Lease, place
from embed_assets.core.encode.backends import DEFAULT_BACKEND, BackendName, backend_spec
from embed_assets.core.encode.backends.loader import LoadedBackend
from embed_assets.core.encode.backends.registry import load_encoder, loads_in_process, probe_agreement
from embed_assets.core.encode.dense import DenseModelSpec, LoadedDenseModel
from embed_assets.core.encode.ensemble import Aggregation
from embed_assets.core.encode.models import (
    ModelIdentity,
    ModelUnavailable,
    ResolvedModel,
    SparseModelChoice,
    max_content_tokens,
    model_dimension,
    resolve_model,
    sparse_dimension,
    weights_fingerprint,
)
from embed_assets.core.ingest.chunking import TokenLimit
from embed_assets.core.retrieval.query import QueryEncoder
from embed_assets.core.settings import DEFAULT_DENSE_MODEL, DEFAULT_SPARSE_MODEL, get_settings
from embed_assets.core.stages.dense import DenseSettings
from embed_assets.core.stages.sparse import SparseSettings
from embed_assets.core.telemetry import child_span

log = logging.getLogger(__name__)


def model_loads_in_process() -> int:
    """How many encoders this process has loaded so far (each (model, backend) at most once;
    Dagster builds a resource per step, the models outlive it, so a Celery worker's process
    running many steps loads each model once)."""
    return loads_in_process()


def _quiet_transformers() -> None:
    with contextlib.suppress(Exception):
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()


class DenseModelConfig(dg.Config):
    ref: str = Field(default=DEFAULT_DENSE_MODEL, description="Packaged alias, local folder or hub id.")
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)


class ModelManagerResource(dg.ConfigurableResource):
    dense_models: list[DenseModelConfig] = Field(
        default_factory=lambda: [DenseModelConfig()], description="The dense ensemble, in order.")
    aggregation: str = Field(default="weighted_concat", description="'weighted_concat' or 'weighted_mean'.")
    sparse_model: str = Field(default=DEFAULT_SPARSE_MODEL)
    sparse_on_gpu: bool = Field(default=False, description="Let the sparse stage hydrate to a leased GPU.")
    dense_batch_size: int = Field(default=64, ge=1, description="Most chunks per dense batch.")
    sparse_batch_size: int = Field(default=64, ge=1, description="Most chunks per sparse batch.")
    reuse_cached_vectors: bool = Field(default=True, description="Encode only chunks whose (model weights, "
                                                                 "content hash) the collection's cache lacks.")
    dense_token_budget: int | None = Field(default=2048, ge=1,
                                           description="Most padded tokens per dense batch (None: count only).")
    sparse_token_budget: int | None = Field(default=2048, ge=1,
                                            description="Most padded tokens per sparse batch; bounds the "
                                                        "batch × sequence × vocabulary logits.")
    encoder_backend: str = Field(default=DEFAULT_BACKEND, description=(
        "What runs the encoders: 'torch', 'onnx' (ONNX Runtime fp32, lossless) or 'onnx-int8' (dynamic int8, "
        "the default on CPUs: under 1% nDCG@10 for several times the speed)."))
    dense_backend: str | None = Field(default=None, description="The dense models' backend (None: encoder_backend).")
    sparse_backend: str | None = Field(default=None, description="The SPLADE model's backend (None: encoder_backend).")
    model_cache: str | None = Field(default=None, description="Folder of exported and quantized graphs "
                                                              "(None: EMBED_ASSETS_MODEL_CACHE or the user cache).")
    encoder_threads: int | None = Field(default=None, ge=1, description="Threads per ONNX Runtime session "
                                                                        "(None: torch's thread count).")

    @field_validator("encoder_backend", "dense_backend", "sparse_backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        return None if value is None else backend_spec(value).name

    # -- identities --------------------------------------------------------------
    def dense_specs(self) -> list[DenseModelSpec]:
        specs = [DenseModelSpec(ref=m.ref, weight=m.weight) for m in self.dense_models]
        if not specs:
            raise ValueError("the dense ensemble needs at least one model")
        keys = [s.column_key for s in specs]
        if len(set(keys)) != len(keys):
            specs = [DenseModelSpec(ref=s.ref, weight=s.weight, key=f"{s.column_key}_{i}") for i, s in enumerate(specs)]
        return specs

    @property
    def aggregation_method(self) -> Aggregation:
        if self.aggregation not in ("weighted_concat", "weighted_mean"):
            raise ValueError(f"unknown aggregation {self.aggregation!r}")
        return self.aggregation  # type: ignore[return-value]

    def backend_for(self, kind: str) -> BackendName:
        override = self.dense_backend if kind == "dense" else self.sparse_backend
        return backend_spec(override or self.encoder_backend).name

    def _loaded(self, kind: Literal["dense", "sparse"], resolved: ResolvedModel,
                backend: str | None = None) -> LoadedBackend:
        """The model on its backend, loaded once per process (the registry caches it)."""
        _quiet_transformers()
        cache = Path(self.model_cache) if self.model_cache else get_settings().resolved_model_cache
        return load_encoder(kind, resolved, backend or self.backend_for(kind), cache_root=cache,
                            threads=self.encoder_threads)

    def _load(self, kind: Literal["dense", "sparse"], resolved: ResolvedModel) -> Any:
        return self._loaded(kind, resolved).model

    @staticmethod
    def identity(resolved: ResolvedModel, model: Any, dim: int | None = None,
                 loaded: LoadedBackend | None = None, kind: Literal["dense", "sparse"] = "dense") -> ModelIdentity:
        return ModelIdentity(name=resolved.ref, source=resolved.source, revision=resolved.revision,
                             weights_sha256=weights_fingerprint(resolved.location),
                             dim=dim if dim is not None else model_dimension(model),
                             max_seq_length=int(model.max_seq_length),
                             backend=loaded.info if loaded else None,
                             probe=probe_agreement(kind, loaded) if loaded else None)

    # -- what the stages receive -------------------------------------------------
    def load_dense(self, backends: Sequence[str | None] | None = None) -> list[LoadedDenseModel]:
        """The dense ensemble; ``backends`` (one per model) overrides the configured backend."""
        out = []
        with child_span("model_load", stage="dense", models=len(self.dense_models)):
            for i, spec in enumerate(self.dense_specs()):
                resolved = resolve_model(spec.ref)
                loaded = self._loaded("dense", resolved, backends[i] if backends and i < len(backends) else None)
                out.append(LoadedDenseModel(spec=spec, identity=self.identity(resolved, loaded.model, loaded=loaded),
                                            model_for=lambda device, _m=loaded.model: place(_m, device)))
        return out

    def load_sparse(self, backend: str | None = None) -> tuple[Any, ModelIdentity]:
        """The sparse model on the CPU; raises ModelUnavailable when it cannot be loaded."""
        resolved = resolve_model(self.sparse_model)
        loaded = self._loaded("sparse", resolved, backend)
        return loaded.model, self.identity(resolved, loaded.model, dim=sparse_dimension(loaded.model),
                                           loaded=loaded, kind="sparse")

    def choose_sparse(self, backend: str | None = None) -> SparseModelChoice:
        """The sparse model, or — when it cannot load — the primary dense model's tokenizer,
        so metadata-derived vectors can stand in, with the reason."""
        try:
            with child_span("model_load", stage="sparse"):  # the span records a failure's type
                model, identity = self.load_sparse(backend)
        except ModelUnavailable as exc:
            return SparseModelChoice(ref=self.sparse_model, model=None, identity=None,
                                     tokenizer=self.dense_token_limits()[0].tokenizer,
                                     unavailable_reason=f"sparse model unavailable: {exc}")
        return SparseModelChoice(ref=self.sparse_model, model=model, identity=identity, tokenizer=model.tokenizer)

    def dense_token_limits(self) -> list[TokenLimit]:
        """Every dense model's tokenizer and content-token limit, primary first."""
        out = []
        for spec in self.dense_specs():
            model = self._load("dense", resolve_model(spec.ref))
            out.append(TokenLimit(name=spec.ref, tokenizer=model.tokenizer, max_tokens=max_content_tokens(model)))
        return out

    def token_limits(self) -> list[TokenLimit]:
        """The limits chunking must respect: every dense model's, and the sparse model's when it loads."""
        limits = self.dense_token_limits()
        with contextlib.suppress(ModelUnavailable):
            model, _ = self.load_sparse()
            limits.append(TokenLimit(name=self.sparse_model, tokenizer=model.tokenizer,
                                     max_tokens=max_content_tokens(model)))
        return limits

    def dense_settings(self, cache_dir: Path) -> DenseSettings:
        return DenseSettings(batch_size=self.dense_batch_size, token_budget=self.dense_token_budget,
                             aggregation=self.aggregation_method,
                             cache_dir=cache_dir if self.reuse_cached_vectors else None)

    def sparse_settings(self, cache_dir: Path, *, lexical: bool, probe_query: str) -> SparseSettings:
        return SparseSettings(batch_size=self.sparse_batch_size, token_budget=self.sparse_token_budget,
                              lexical=lexical, probe_query=probe_query,
                              cache_dir=cache_dir if self.reuse_cached_vectors else None)

    def query_encoder(self, dense_backends: Sequence[str | None] | None = None,
                      sparse_backend: str | None = None) -> QueryEncoder:
        """Encodes queries as this configuration encodes chunks (SPLADE when it loads), or —
        given the backends a collection's manifest records — as that collection was encoded."""
        dense = self.load_dense(dense_backends)
        choice = self.choose_sparse(sparse_backend)
        return QueryEncoder([d.model_for("cpu") for d in dense], [d.spec.weight for d in dense],
                            self.aggregation_method, choice.model, choice.tokenizer)

    @contextlib.contextmanager
    def on_lease(self, models: list[Any], lease: Lease) -> Iterator[None]:
        """For the span of ``lease`` the models may be placed on its GPU; afterwards they
        are back on the CPU and the device cache is cleared, so a later stage has the budget."""
        try:
            yield
        finally:
            if lease.is_gpu:
                for model in models:
                    place(model, "cpu")
                lease.clear_cache()
