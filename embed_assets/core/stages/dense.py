"""The dense stage, in shards: each shard encodes its range of the distinct chunk texts with
the ensemble under a device lease (reading, never writing, the embedding cache); the merge
puts the shards back in chunk order, aggregates the ensemble, writes the cache and records
the stage. One shard is the unsharded stage."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel

from ..devices.events import BatchEvent
from ..devices.lease import Lease
from ..encode.cache import DenseCache, unique_first
from ..encode.dense import DenseEncoding, LoadedDenseModel, encode_dense_cached
from ..encode.ensemble import Aggregation, aggregate, ensemble_dim
from ..encode.shards import ShardSpec, shard_rows
from ..manifest.envelopes import DenseEnvelope, DenseShardEnvelope, lineage_of, read_envelope
from ..manifest.models import BatchEventCounts, DenseStage, ModelEntry
from ..storage.arrow import fixed_size_vectors, vectors_from_column, with_stage_metadata
from .shards import merged_latency_ms, ordered_shards, same_encoders, sum_event_counts


class DenseSettings(BaseModel):
    batch_size: int
    token_budget: int | None
    aggregation: Aggregation = "weighted_concat"
    cache_dir: Path | None = None


def dense_section(encoding: DenseEncoding, batch_size: int, latency_ms: float) -> DenseStage:
    stats = encoding.stats
    return DenseStage(
        count=len(encoding.ensemble), dim=encoding.dim, aggregation=encoding.aggregation,
        models=[ModelEntry.of(r.key, r.identity, r.weight) for r in encoding.runs], devices=encoding.devices,
        batch_size=batch_size, min_batch_size=min(stats.batch_sizes, default=batch_size),
        oom_retries=stats.oom_retries, batch_events=BatchEventCounts.of([e.kind for e in encoding.events]),
        unique_chunks=encoding.unique, encoded=encoding.encoded, encode_ms=stats.encode_ms, latency_ms=latency_ms)


def dense_table(chunks: pa.Table, ensemble: np.ndarray, per_model: dict[str, np.ndarray]) -> pa.Table:
    columns: dict[str, Any] = {"chunk_id": chunks.column("chunk_id"), "doc_id": chunks.column("doc_id"),
                               "dense": fixed_size_vectors(ensemble)}
    for key, matrix in per_model.items():
        columns[f"dense__{key}"] = fixed_size_vectors(matrix)
    return pa.table(columns)


def run_dense_shard(chunks: pa.Table, shard: ShardSpec, models: list[LoadedDenseModel], lease: Lease,
                    settings: DenseSettings, *, started: float,
                    on_event: Callable[[BatchEvent], None] | None = None) -> tuple[pa.Table, DenseShardEnvelope]:
    """Encode the shard's distinct chunk texts on the lease's device chain; ``started`` is the
    step's start (``time.perf_counter()``), model loading included."""
    rows = pa.array(shard_rows(chunks.column("content_hash").to_pylist(), shard), type=pa.int64())
    picked = chunks.select(["text", "token_count", "content_hash"]).take(rows)
    hashes = picked.column("content_hash").to_pylist()
    encoding = encode_dense_cached(
        models, picked.column("text").to_pylist(), picked.column("token_count").to_pylist(), hashes,
        settings.cache_dir, write_cache=False, devices=lease.devices(), batch_size=settings.batch_size,
        aggregation=settings.aggregation,
        make_batcher=lease.batcher_factory(settings.batch_size, token_budget=settings.token_budget),
        before_batch=lease.before_batch, on_event=on_event)
    stage = dense_section(encoding, settings.batch_size, (time.perf_counter() - started) * 1000.0)
    envelope = DenseShardEnvelope(lineage=lineage_of(chunks), shard=shard, stage=stage,
                                  peak_vram_bytes=encoding.stats.peak_memory_bytes, events=encoding.events)
    columns: dict[str, Any] = {"content_hash": pa.array(hashes, type=pa.string())}
    columns.update({f"dense__{k}": fixed_size_vectors(m) for k, m in encoding.per_model.items()})
    return with_stage_metadata(pa.table(columns), envelope), envelope


def _ensemble(per_model: dict[str, np.ndarray], models: list[ModelEntry], aggregation: str, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros((0, ensemble_dim([m.dim for m in models], aggregation)), dtype=np.float32)  # type: ignore[arg-type]
    return aggregate([per_model[m.key] for m in models], [m.weight for m in models], aggregation)  # type: ignore[arg-type]


def merged_dense_section(parts: Sequence[DenseShardEnvelope], count: int, unique: int,
                         latency_ms: float) -> DenseStage:
    stages = [p.stage for p in parts]
    first = stages[0]
    return DenseStage(
        count=count, dim=first.dim, aggregation=first.aggregation, models=first.models,
        devices=sorted({d for s in stages for d in s.devices}), batch_size=first.batch_size,
        min_batch_size=min(s.min_batch_size for s in stages), oom_retries=sum(s.oom_retries for s in stages),
        batch_events=sum_event_counts([s.batch_events for s in stages]), unique_chunks=unique,
        encoded=sum(s.encoded for s in stages), encode_ms=sum(s.encode_ms for s in stages), latency_ms=latency_ms,
        shards=len(stages))


def merge_dense_shards(chunks: pa.Table, shard_tables: Sequence[pa.Table], cache_dir: Path | None, *,
                       started: float) -> tuple[pa.Table, DenseEnvelope]:
    """The shards back in chunk order: the ensemble aggregated, identical chunks given their
    text's vectors, and each model's cache rewritten to hold exactly the current chunks."""
    lineage = lineage_of(chunks)
    hashes = chunks.column("content_hash").to_pylist()
    firsts, inverse = unique_first(hashes)
    parts = [(read_envelope(t.schema, DenseShardEnvelope), t) for t in shard_tables]
    ordered = ordered_shards(parts, lineage, [hashes[i] for i in firsts], "dense_embeddings")
    envelopes = [e for e, _ in ordered]
    same_encoders("dense_embeddings", [(e.shard.index, tuple((m.weights_sha256, m.backend.cache_tag if m.backend else "")
                                                             for m in e.stage.models)) for e in envelopes])
    models = envelopes[0].stage.models
    unique = pa.concat_tables([t.select([f"dense__{m.key}" for m in models]) for _, t in ordered])
    per_model = {m.key: vectors_from_column(unique.column(f"dense__{m.key}")) for m in models}
    if cache_dir is not None:
        for m in models:
            tag = m.backend.cache_tag if m.backend else ""
            DenseCache(cache_dir, m.weights_sha256, m.dim, tag).save([hashes[i] for i in firsts], per_model[m.key])
    ensemble = _ensemble(per_model, models, envelopes[0].stage.aggregation, len(firsts))
    table = dense_table(chunks, ensemble[inverse], {k: v[inverse] for k, v in per_model.items()})
    stage = merged_dense_section(envelopes, chunks.num_rows, len(firsts),
                                 merged_latency_ms([e.stage.latency_ms for e in envelopes], started))
    envelope = DenseEnvelope(lineage=lineage, stage=stage, peak_vram_bytes=max(e.peak_vram_bytes for e in envelopes),
                             events=[ev for e in envelopes for ev in e.events])
    return with_stage_metadata(table, envelope), envelope
