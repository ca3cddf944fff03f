"""Dagster metadata of one shard step: which shard, how many distinct chunks, where and how
fast they were encoded (the shard's table is a step output, not an asset)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from embed_assets.core.manifest.envelopes import DenseShardEnvelope, SparseShardEnvelope

from .metadata import rate, table_metadata


def _shard(envelope: DenseShardEnvelope | SparseShardEnvelope) -> dict[str, Any]:
    shard = envelope.shard
    return {"shard": f"{shard.index + 1} of {shard.count}", "distinct_chunks": shard.size,
            "range": f"[{shard.start}, {shard.stop}) of {shard.unique_total}"}


def dense_shard_metadata(table: pa.Table, envelope: DenseShardEnvelope) -> dict[str, Any]:
    st = envelope.stage
    return {**table_metadata(table), **_shard(envelope), "devices": ", ".join(st.devices),
            "chunks_per_s": round(rate(st.count, st.latency_ms), 2), "latency_ms": round(st.latency_ms, 1),
            "encoded": st.encoded, "batch_size_min": st.min_batch_size, "oom_retries": st.oom_retries,
            "peak_vram_bytes": envelope.peak_vram_bytes}


def sparse_shard_metadata(table: pa.Table, envelope: SparseShardEnvelope) -> dict[str, Any]:
    r = envelope.result
    return {**table_metadata(table), **_shard(envelope), "devices": ", ".join(r.devices) or "cpu",
            "chunks_per_s": round(rate(envelope.shard.size, envelope.latency_ms), 2),
            "latency_ms": round(envelope.latency_ms, 1), "encoded": r.encoded, "fallback_used": r.fallback_used,
            "oom_retries": r.oom_retries, "peak_vram_bytes": r.peak_memory_bytes}
