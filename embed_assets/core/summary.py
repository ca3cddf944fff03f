"""Assembling the manifest from the stage sections each asset recorded."""

from __future__ import annotations

from typing import Any

from .manifest import (
    SCHEMA_VERSION_DENSE,
    SCHEMA_VERSION_SPARSE,
    Activation,
    ChunksStage,
    DenseStage,
    ExportEntry,
    ExportStage,
    FusionStage,
    ManifestV40,
    ManifestV41,
    Performance,
    RunInfo,
    SparseInferenceRun,
    SparseStage,
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


def build_manifest(
    *,
    collection: str,
    run: RunInfo,
    chunks: ChunksStage,
    dense: DenseStage,
    dense_peak_vram: int,
    sparse: SparseStage | None,
    sparse_peak_vram: int,
    sparse_run: SparseInferenceRun | None,
    fusion: FusionStage,
    export: ExportStage,
    exports: list[ExportEntry],
    activation: Activation,
    vram: VramBudget,
    total_wall_ms: float,
) -> ManifestV40:
    soft = vram.soft_limit_bytes
    perf: dict[str, StagePerformance] = {
        "chunks": stage_performance(chunks.count, chunks.latency_ms, "cpu", 0, soft),
        "dense": stage_performance(dense.count, dense.latency_ms, ",".join(dense.devices), dense_peak_vram, soft),
        "fusion": stage_performance(fusion.count, fusion.latency_ms, "cpu", 0, soft),
        "export": stage_performance(export.rows, export.latency_ms, "cpu", 0, soft),
    }
    if sparse is not None:
        perf["sparse"] = stage_performance(sparse.count, sparse.latency_ms, ",".join(sparse.devices),
                                           sparse_peak_vram, soft)
    peak = max(p.peak_vram_bytes for p in perf.values())
    performance = Performance(
        stages=perf,
        total_wall_ms=total_wall_ms,
        chunks_per_s=chunks.count / (total_wall_ms / 1000.0) if total_wall_ms > 0 else 0.0,
        vram_budget=vram,
        peak_vram_bytes=peak,
        soft_limit_exceeded=any(p.soft_limit_exceeded for p in perf.values()),
        hard_cap_exceeded=peak > vram.hard_cap_bytes,
    )
    common: dict[str, Any] = dict(collection=collection, run=run, activation=activation, performance=performance,
                                  exports=exports)
    if sparse is None or sparse_run is None:
        return ManifestV40(schema_version=SCHEMA_VERSION_DENSE,
                           stages=StagesV40(chunks=chunks, dense=dense, fusion=fusion, export=export), **common)
    return ManifestV41(schema_version=SCHEMA_VERSION_SPARSE,
                       stages=StagesV41(chunks=chunks, dense=dense, sparse=sparse, fusion=fusion, export=export),
                       sparse_run=sparse_run, **common)
