"""The dense ensemble: several sentence-transformers models, each L2-normalized, then
aggregated (see :mod:`.ensemble`), with identical chunks encoded once and cached vectors
reused."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from ..devices.batching import BatcherFactory, fixed_batcher_factory
from ..devices.events import BatchEvent, EventLog
from ..progress import progress
from ..settings import DEFAULT_DENSE_MODEL
from .cache import DenseCache, unique_first
from .ensemble import Aggregation, aggregate, ensemble_dim, l2_normalize
from .longest_first import BatchStats, encode_longest_first
from .models import ModelIdentity, model_key


class DenseModelSpec(BaseModel):
    ref: str = Field(default=DEFAULT_DENSE_MODEL, description="Packaged alias, local folder or hub id.")
    weight: float = Field(default=1.0, gt=0)
    key: str | None = Field(default=None, description="Column-safe name; derived from ref when empty.")

    @property
    def column_key(self) -> str:
        return self.key or model_key(self.ref)


@dataclass
class LoadedDenseModel:
    spec: DenseModelSpec
    identity: ModelIdentity
    model_for: Callable[[str], Any]
    """Returns the model placed on a device (the model manager moves it)."""


@dataclass
class DenseModelRun:
    key: str
    identity: ModelIdentity
    weight: float
    devices: list[str]
    stats: BatchStats
    latency_ms: float


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

    @property
    def stats(self) -> BatchStats:
        return BatchStats.merge([r.stats for r in self.runs])

    @property
    def devices(self) -> list[str]:
        return sorted({d for r in self.runs for d in r.devices})


def _encode_model(loaded: LoadedDenseModel, texts: Sequence[str], lengths: Sequence[int], devices: list[str],
                  factory: BatcherFactory, log: EventLog,
                  before_batch: Callable[[str, int, int], None] | None) -> tuple[np.ndarray, DenseModelRun]:
    key = loaded.spec.column_key
    started = time.perf_counter()

    def encode(device: str, batch: list[str]) -> np.ndarray:
        return loaded.model_for(device).encode(batch, batch_size=len(batch), convert_to_numpy=True,
                                               normalize_embeddings=True, show_progress_bar=False)

    with progress(f"dense {key}", len(texts)) as bar:
        run = encode_longest_first(texts, lengths, stage=f"dense:{key}", devices=devices, make_batcher=factory,
                                   log=log, encode=encode, before_batch=before_batch, progress=bar)
    n = len(texts)
    if run.done < n:
        raise RuntimeError(f"dense model {key!r} could not encode item {run.done} of {n} on any device "
                           f"({', '.join(devices)})")
    matrix = np.empty((n, loaded.identity.dim), dtype=np.float32)
    if n:
        matrix[run.order] = np.concatenate([s.output for s in run.segments], axis=0)
    return l2_normalize(matrix), DenseModelRun(
        key=key, identity=loaded.identity, weight=loaded.spec.weight, devices=run.devices or devices[:1],
        stats=run.stats, latency_ms=(time.perf_counter() - started) * 1000.0)


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
    """Encode ``texts`` with every model; vectors come back in input order."""
    log = EventLog(on_event)
    factory = make_batcher or fixed_batcher_factory(batch_size)
    per_model: dict[str, np.ndarray] = {}
    runs: list[DenseModelRun] = []
    for loaded in models:
        matrix, run = _encode_model(loaded, texts, lengths, devices, factory, log, before_batch)
        per_model[run.key] = matrix
        runs.append(run)
    return DenseEncoding(ensemble=_aggregate(per_model, runs, aggregation, len(texts)), per_model=per_model,
                         aggregation=aggregation, runs=runs, events=log.events)


def _aggregate(per_model: dict[str, np.ndarray], runs: list[DenseModelRun], aggregation: Aggregation,
               n: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, ensemble_dim([r.identity.dim for r in runs], aggregation)), dtype=np.float32)
    return aggregate([per_model[r.key] for r in runs], [r.weight for r in runs], aggregation)


def encode_dense_cached(
    models: Sequence[LoadedDenseModel],
    texts: Sequence[str],
    lengths: Sequence[int],
    hashes: Sequence[str],
    cache_dir: Path | None,
    *,
    write_cache: bool = True,
    **kwargs: Any,
) -> DenseEncoding:
    """:func:`encode_dense` on only what is new: identical chunks are encoded once, and
    chunks whose (model weights, content hash) the cache holds are not encoded at all.
    ``write_cache=False`` only reads the cache (a shard: its merge writes the cache)."""
    firsts, inverse = unique_first(list(hashes))
    unique_hashes = [hashes[i] for i in firsts]
    caches = [DenseCache(cache_dir, m.identity.weights_sha256, m.identity.dim, m.identity.cache_tag) if cache_dir
              else None for m in models]
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
        if cache is not None and write_cache:
            cache.save(unique_hashes, matrix)
        per_model[key] = matrix
    ensemble = _aggregate(per_model, fresh.runs, fresh.aggregation, len(unique_hashes))
    return DenseEncoding(ensemble=ensemble[inverse], per_model={k: v[inverse] for k, v in per_model.items()},
                         aggregation=fresh.aggregation, runs=fresh.runs, events=fresh.events,
                         unique=len(unique_hashes), encoded=len(missing))
