"""Assembling the manifest from the stage envelopes each asset recorded."""

from __future__ import annotations

from typing import Any

from ..storage.exports import ExportEntry
from .envelopes import ChunksEnvelope, DenseEnvelope, FusionEnvelope, SparseEnvelope
from .models import (
    SCHEMA_VERSION_DENSE,
    SCHEMA_VERSION_SPARSE,
    Activation,
    ExportStage,
    ManifestV40,
    ManifestV41,
    Performance,
    RunInfo,
    StagePerformance,
    StagesV40,
    StagesV41,
    VramBudget,
)


def stage_performance(count: int, latency_ms: float, device: str, peak_vram: int, soft_limit: int) -> StagePerformance:
    seconds = latency_ms / 1000.0
    return StagePerformance(latency_ms=latency_ms, throughput_per_s=count / seconds if seconds > 0 else 0.0,
                            device=device, peak_vram_bytes=peak_vram,
                            soft_limit_exceeded=peak_vram > soft_limit if peak_vram else False)


def activation(dense: DenseEnvelope, sparse: SparseEnvelope, sparse_model: str) -> Activation:
    """Which models and features ran, and which setting decided the sparse stage."""
    stage = sparse.stage if sparse.enabled else None
    devices = dense.stage.devices + (stage.devices if stage else [])
    return Activation(sparse=sparse.decision, dense_models=[m.key for m in dense.stage.models], sparse_model=sparse_model,
                      features={"sparse": sparse.enabled, "fusion_hybrid": sparse.enabled,
                                "sparse_fallback": bool(stage and stage.fallback_used),
                                "lexical": bool(stage and stage.lexical),
                                "gpu": any(d != "cpu" for d in devices)})


def performance(chunks: ChunksEnvelope, dense: DenseEnvelope, sparse: SparseEnvelope, fusion: FusionEnvelope,
                export: ExportStage, vram: VramBudget, total_wall_ms: float) -> Performance:
    soft = vram.soft_limit_bytes
    perf: dict[str, StagePerformance] = {
        "chunks": stage_performance(chunks.stage.count, chunks.stage.latency_ms, "cpu", 0, soft),
        "dense": stage_performance(dense.stage.count, dense.stage.latency_ms, ",".join(dense.stage.devices),
                                   dense.peak_vram_bytes, soft),
        "fusion": stage_performance(fusion.stage.count, fusion.stage.latency_ms, "cpu", 0, soft),
        "export": stage_performance(export.rows, export.latency_ms, "cpu", 0, soft),
    }
    if sparse.enabled and sparse.stage is not None:
        perf["sparse"] = stage_performance(sparse.stage.count, sparse.stage.latency_ms, ",".join(sparse.stage.devices),
                                           sparse.peak_vram_bytes, soft)
    peak = max(p.peak_vram_bytes for p in perf.values())
    return Performance(
        stages=perf, total_wall_ms=total_wall_ms,
        chunks_per_s=chunks.stage.count / (total_wall_ms / 1000.0) if total_wall_ms > 0 else 0.0,
        vram_budget=vram, peak_vram_bytes=peak, soft_limit_exceeded=any(p.soft_limit_exceeded for p in perf.values()),
        hard_cap_exceeded=peak > vram.hard_cap_bytes)


def build_manifest(*, collection: str, run: RunInfo, chunks: ChunksEnvelope, dense: DenseEnvelope,
                   sparse: SparseEnvelope, fusion: FusionEnvelope, export: ExportStage, exports: list[ExportEntry],
                   sparse_model: str, vram: VramBudget, total_wall_ms: float) -> ManifestV40:
    """Version 4.1 exactly when the sparse stage ran, 4.0 otherwise."""
    common: dict[str, Any] = dict(
        collection=collection, run=run, activation=activation(dense, sparse, sparse_model), exports=exports,
        performance=performance(chunks, dense, sparse, fusion, export, vram, total_wall_ms))
    stages: dict[str, Any] = dict(chunks=chunks.stage, dense=dense.stage, fusion=fusion.stage, export=export)
    if not sparse.enabled or sparse.stage is None or sparse.sparse_run is None:
        return ManifestV40(schema_version=SCHEMA_VERSION_DENSE, stages=StagesV40(**stages), **common)
    return ManifestV41(schema_version=SCHEMA_VERSION_SPARSE, stages=StagesV41(sparse=sparse.stage, **stages),
                       sparse_run=sparse.sparse_run, **common)
