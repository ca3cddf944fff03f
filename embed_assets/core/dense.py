"""The dense ensemble: several sentence-transformers models, each L2-normalized, then
aggregated. Default aggregation is weighted concatenation — ``√wᵢ · vᵢ`` side by side,
normalized — so the dot product of two ensemble vectors is ``Σ wᵢ cosᵢ / Σ wᵢ``."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from .batching import AdaptiveBatcher, BatcherFactory, BatchEvent, fixed_batcher_factory, run_on_devices
from .cache import DenseCache, unique_first
from .models import DEFAULT_DENSE_MODEL, ModelIdentity, model_key

Aggregation = Literal["weighted_concat", "weighted_mean"]


class DenseModelSpec(BaseModel):
    ref: str = Field(default=DEFAULT_DENSE_MODEL, description="Packaged alias, local folder or hub id.")
    weight: float = Field(default=1.0, gt=0)
    key: str | None = Field(default=None, description="Column-safe name; derived from ref when empty.")

    @property
    def column_key(self) -> str:
        return self.key or model_key(self.ref)


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.maximum(norms, 1e-12)


def aggregate(per_model: Sequence[np.ndarray], weights: Sequence[float], method: Aggregation = "weighted_concat") -> np.ndarray:
    if not per_model:
        raise ValueError("at least one model's vectors are needed")
    normed = [l2_normalize(v) for v in per_model]
    if method == "weighted_concat":
        out = np.concatenate([np.sqrt(w) * v for v, w in zip(normed, weights)], axis=1)
    elif method == "weighted_mean":
        dims = {v.shape[1] for v in normed}
        if len(dims) != 1:
            raise ValueError(f"weighted_mean needs models of one dimension, got {sorted(dims)}")
        out = sum(w * v for v, w in zip(normed, weights))  # type: ignore[assignment]
    else:  # pragma: no cover - guarded by the Literal
        raise ValueError(f"unknown aggregation {method!r}")
    return l2_normalize(out)


@dataclass
class DenseModelRun:
    key: str
    identity: ModelIdentity
    weight: float
    devices: list[str]
    batch_sizes: list[int]
    oom_retries: int
    soft_limit_exceedances: int
    peak_memory_bytes: int
    latency_ms: float
    encode_ms: float = 0.0


@dataclass
class DenseEncoding:
    ensemble: np.ndarray
    per_model: dict[str, np.ndarray]
    aggregation: Aggregation
    runs: list[DenseModelRun]
    events: list[BatchEvent] = field(default_factory=list)
    unique: int = 0
    encoded: int = 0

    @property
    def dim(self) -> int:
        return int(self.ensemble.shape[1])


@dataclass
class LoadedDenseModel:
    spec: DenseModelSpec
    identity: ModelIdentity
    model_for: Callable[[str], Any]
    """Returns the model placed on a device (the model manager moves it)."""


def encode_dense(
    models: Sequence[LoadedDenseModel],
    texts: Sequence[str],
    lengths: Sequence[int],
    *,
    devices: list[str],
    batch_size: int,
    aggregation: Aggregation = "weighted_concat",
    make_batcher: BatcherFactory | None = None,
    before_batch: Callable[[str, int, int], None] | None = None,
    on_event: Callable[[BatchEvent], None] | None = None,
) -> DenseEncoding:
    """Encode ``texts`` with every model. Items are processed longest-first (less
    padding per batch) and put back in input order."""
    n = len(texts)
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    sorted_texts = [texts[i] for i in order]
    sorted_lengths = [int(lengths[i]) for i in order]
    events: list[BatchEvent] = []

    def emit(event: BatchEvent) -> None:
        events.append(event)
        if on_event:
            on_event(event)

    factory = make_batcher or fixed_batcher_factory(batch_size)
    per_model: dict[str, np.ndarray] = {}
    runs: list[DenseModelRun] = []
    for loaded in models:
        key = loaded.spec.column_key
        started = time.perf_counter()

        def encode(device: str, a: int, b: int, _loaded: LoadedDenseModel = loaded) -> np.ndarray:
            if before_batch:
                before_batch(device, b - a, sum(sorted_lengths[a:b]))
            model = _loaded.model_for(device)
            return model.encode(sorted_texts[a:b], batch_size=b - a, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=False)

        def batcher(device: str, _stage: str = f"dense:{key}") -> AdaptiveBatcher:
            return factory(_stage, device, emit)

        segments, done, batchers = run_on_devices(n, devices, batcher, encode, on_event=emit, lengths=sorted_lengths)
        if done < n:
            raise RuntimeError(f"dense model {key!r} could not encode item {done} of {n} on any device "
                               f"({', '.join(devices)})")
        matrix = np.empty((n, loaded.identity.dim), dtype=np.float32)
        if n:
            matrix[order] = np.concatenate([s.output for s in segments], axis=0)
        per_model[key] = l2_normalize(matrix)
        runs.append(DenseModelRun(
            key=key, identity=loaded.identity, weight=loaded.spec.weight,
            devices=sorted({s.device for s in segments}) or devices[:1],
            batch_sizes=[b for bt in batchers for b in bt.stats.batch_sizes],
            oom_retries=sum(bt.stats.oom_retries for bt in batchers),
            soft_limit_exceedances=sum(bt.stats.soft_limit_exceedances for bt in batchers),
            peak_memory_bytes=max((bt.stats.peak_memory_bytes for bt in batchers), default=0),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            encode_ms=sum(bt.stats.busy_s for bt in batchers) * 1000.0,
        ))
    if n == 0:
        total = sum(r.identity.dim for r in runs) if aggregation == "weighted_concat" else runs[0].identity.dim
        ensemble = np.zeros((0, total), dtype=np.float32)
    else:
        ensemble = aggregate([per_model[r.key] for r in runs], [r.weight for r in runs], aggregation)
    return DenseEncoding(ensemble=ensemble, per_model=per_model, aggregation=aggregation, runs=runs, events=events)


def encode_dense_cached(
    models: Sequence[LoadedDenseModel],
    texts: Sequence[str],
    lengths: Sequence[int],
    hashes: Sequence[str],
    cache_dir: Path | None,
    **kwargs: Any,
) -> DenseEncoding:
    """:func:`encode_dense` on only what is new: identical chunks are encoded once, and
    chunks whose (model weights, content hash) the cache holds are not encoded at all."""
    firsts, inverse = unique_first(list(hashes))
    unique_hashes = [hashes[i] for i in firsts]
    caches = [DenseCache(cache_dir, m.identity.weights_sha256, m.identity.dim) if cache_dir else None for m in models]
    known = [c.load() if c else {} for c in caches]
    missing = [j for j, h in enumerate(unique_hashes) if any(h not in k for k in known)]
    fresh = encode_dense(models, [texts[firsts[j]] for j in missing], [lengths[firsts[j]] for j in missing],
                         **kwargs)
    per_model: dict[str, np.ndarray] = {}
    for loaded, cached, cache in zip(models, known, caches):
        key = loaded.spec.column_key
        matrix = np.zeros((len(unique_hashes), loaded.identity.dim), dtype=np.float32)
        for j, h in enumerate(unique_hashes):
            if h in cached:
                matrix[j] = cached[h]
        if missing:
            matrix[missing] = fresh.per_model[key]
        if cache is not None:
            cache.save(unique_hashes, matrix)
        per_model[key] = matrix
    runs = fresh.runs
    if unique_hashes:
        ensemble = aggregate([per_model[r.key] for r in runs], [r.weight for r in runs], fresh.aggregation)
    else:
        ensemble = np.zeros((0, fresh.dim), dtype=np.float32)
    return DenseEncoding(ensemble=ensemble[inverse], per_model={k: v[inverse] for k, v in per_model.items()},
                         aggregation=fresh.aggregation, runs=runs, events=fresh.events,
                         unique=len(unique_hashes), encoded=len(missing))
