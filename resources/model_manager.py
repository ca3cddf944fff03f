"""``ModelManagerResource``: loads each model once per process, keeps sparse models on the
CPU, moves a model to a GPU only for the span of a lease, and hands the stages typed
objects: loaded dense models, a :class:`SparseModelChoice`, tokenizer limits, stage settings."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from embed_assets.core.devices.lease import Lease, place
from embed_assets.core.encode.dense import DenseModelSpec, LoadedDenseModel
from embed_assets.core.encode.ensemble import Aggregation
from embed_assets.core.encode.models import (
    ModelIdentity,
    ModelUnavailable,
    ResolvedModel,
    SparseModelChoice,
    load_dense_model,
    load_sparse_model,
    max_content_tokens,
    model_dimension,
    resolve_model,
    sparse_dimension,
    weights_fingerprint,
)
from embed_assets.core.ingest.chunking import TokenLimit
from embed_assets.core.retrieval.query import QueryEncoder
from embed_assets.core.settings import DEFAULT_DENSE_MODEL, DEFAULT_SPARSE_MODEL
from embed_assets.core.stages.dense import DenseSettings
from embed_assets.core.stages.sparse import SparseSettings
from embed_assets.core.telemetry import child_span

log = logging.getLogger(__name__)

# Per-process caches: Dagster builds a resource per step, the models outlive it (a Celery
# worker's process runs many steps and loads each model once).
_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.RLock()
_LOADS = [0]


def model_loads_in_process() -> int:
    """How many models this process has loaded so far (each at most once)."""
    return _LOADS[0]


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

    def _load(self, kind: str, resolved: ResolvedModel) -> Any:
        key = (kind, resolved.location)
        with _LOCK:
            if key not in _MODELS:
                _quiet_transformers()
                loader = load_dense_model if kind == "dense" else load_sparse_model
                log.info("loading %s model %s", kind, resolved.ref)
                _MODELS[key] = loader(resolved, "cpu")
                _LOADS[0] += 1
            return _MODELS[key]

    @staticmethod
    def identity(resolved: ResolvedModel, model: Any, dim: int | None = None) -> ModelIdentity:
        return ModelIdentity(name=resolved.ref, source=resolved.source, revision=resolved.revision,
                             weights_sha256=weights_fingerprint(resolved.location),
                             dim=dim if dim is not None else model_dimension(model),
                             max_seq_length=int(model.max_seq_length))

    # -- what the stages receive -------------------------------------------------
    def load_dense(self) -> list[LoadedDenseModel]:
        loaded = []
        with child_span("model_load", stage="dense", models=len(self.dense_models)):
            for spec in self.dense_specs():
                resolved = resolve_model(spec.ref)
                model = self._load("dense", resolved)
                loaded.append(LoadedDenseModel(spec=spec, identity=self.identity(resolved, model),
                                               model_for=lambda device, _m=model: place(_m, device)))
        return loaded

    def load_sparse(self) -> tuple[Any, ModelIdentity]:
        """The sparse model on the CPU; raises ModelUnavailable when it cannot be loaded."""
        resolved = resolve_model(self.sparse_model)
        model = self._load("sparse", resolved)
        return model, self.identity(resolved, model, dim=sparse_dimension(model))

    def choose_sparse(self) -> SparseModelChoice:
        """The sparse model, or — when it cannot load — the primary dense model's tokenizer,
        so metadata-derived vectors can stand in, with the reason."""
        try:
            with child_span("model_load", stage="sparse"):  # the span records a failure's type
                model, identity = self.load_sparse()
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

    def query_encoder(self) -> QueryEncoder:
        """Encodes queries as this configuration encodes chunks (SPLADE when it loads)."""
        dense = self.load_dense()
        choice = self.choose_sparse()
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
