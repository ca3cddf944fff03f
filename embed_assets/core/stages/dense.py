"""The dense stage: every chunk encoded by the ensemble under a device lease."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from ..devices.events import BatchEvent
from ..devices.lease import Lease
from ..encode.dense import DenseEncoding, LoadedDenseModel, encode_dense_cached
from ..encode.ensemble import Aggregation
from ..manifest.envelopes import DenseEnvelope, lineage_of
from ..manifest.models import BatchEventCounts, DenseStage, ModelEntry
from ..storage.arrow import fixed_size_vectors, with_stage_metadata


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


def dense_table(chunks: pa.Table, encoding: DenseEncoding) -> pa.Table:
    columns: dict[str, Any] = {"chunk_id": chunks.column("chunk_id"), "doc_id": chunks.column("doc_id"),
                               "dense": fixed_size_vectors(encoding.ensemble)}
    for key, matrix in encoding.per_model.items():
        columns[f"dense__{key}"] = fixed_size_vectors(matrix)
    return pa.table(columns)


def run_dense_stage(chunks: pa.Table, models: list[LoadedDenseModel], lease: Lease, settings: DenseSettings, *,
                    started: float, on_event: Callable[[BatchEvent], None] | None = None,
                    ) -> tuple[pa.Table, DenseEnvelope]:
    """Encode the chunks on the lease's device chain; ``started`` is the stage's start
    (``time.perf_counter()``), model loading included."""
    encoding = encode_dense_cached(
        models, chunks.column("text").to_pylist(), chunks.column("token_count").to_pylist(),
        chunks.column("content_hash").to_pylist(), settings.cache_dir, devices=lease.devices(),
        batch_size=settings.batch_size, aggregation=settings.aggregation,
        make_batcher=lease.batcher_factory(settings.batch_size, token_budget=settings.token_budget),
        before_batch=lease.before_batch, on_event=on_event)
    stage = dense_section(encoding, settings.batch_size, (time.perf_counter() - started) * 1000.0)
    envelope = DenseEnvelope(lineage=lineage_of(chunks), stage=stage, peak_vram_bytes=encoding.stats.peak_memory_bytes,
                             events=encoding.events)
    return with_stage_metadata(dense_table(chunks, encoding), envelope), envelope
