"""``processing_summary``: the manifest (v4.0 or v4.1) and the collection's exports,
validated and then published atomically."""

import json
import time

import dagster as dg
import pyarrow as pa

from embed_assets.core.manifest.envelopes import (
    ChunksEnvelope,
    DenseEnvelope,
    FusionEnvelope,
    SparseEnvelope,
    read_envelope,
)
from embed_assets.core.manifest.models import VramBudget
from embed_assets.core.stages.summary import PublishRefused, StageEnvelopes, publish_collection
from embed_assets.core.storage.publish import ExportPublisher
from embed_assets.core.telemetry import emit_run_span
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..io_manager import LOAD_ENVELOPE
from ..metadata import summary_metadata
from ..resources import PathsResource, QualityGatesResource
from .common import asset_options, collection_of, progress, run_id_of, run_includes, traced


def _emit_run_span(context: dg.AssetExecutionContext, collection: str, manifest: dict, run_started: float) -> None:
    sparse = manifest["stages"].get("sparse") or {}
    emit_run_span(run_id_of(context), collection, int(run_started * 1e9), time.time_ns(), {
        "schema_version": manifest["schema_version"], "chunks": manifest["stages"]["chunks"]["count"],
        "documents_seen": manifest["stages"]["chunks"]["documents"]["seen"],
        "sparse_enabled": manifest["activation"]["sparse"]["enabled"],
        "fallback_used": bool(sparse.get("fallback_used")),
        "peak_vram_bytes": manifest["performance"]["peak_vram_bytes"],
        "total_wall_ms": manifest["performance"]["total_wall_ms"]})


@dg.asset(**asset_options(kinds={"json", "parquet"}, ins={
    "fused_vectors": dg.AssetIn(),
    "chunks_stage": dg.AssetIn(key="chunks", metadata=LOAD_ENVELOPE),
    "dense_stage": dg.AssetIn(key="dense_embeddings", metadata=LOAD_ENVELOPE),
    "sparse_stage": dg.AssetIn(key="sparse_vectors", metadata=LOAD_ENVELOPE),
}, description="The manifest (processing_summary.json, v4.0 or v4.1) and the collection's exports, "
               "validated and then published atomically."))
@traced("processing_summary")
def processing_summary(context: dg.AssetExecutionContext, fused_vectors: pa.Table, chunks_stage: ChunksEnvelope,
                       dense_stage: DenseEnvelope, sparse_stage: SparseEnvelope, paths: PathsResource,
                       gpu: GpuLeaseResource, model_manager: ModelManagerResource,
                       gates: QualityGatesResource) -> dg.Output[pa.Table]:
    collection = collection_of(context)
    run_started = context.instance.get_run_stats(run_id_of(context)).start_time or time.time()
    envelopes = StageEnvelopes(chunks=chunks_stage, dense=dense_stage, sparse=sparse_stage,
                               fusion=read_envelope(fused_vectors.schema, FusionEnvelope))
    try:
        published = publish_collection(
            collection=collection, fused=fused_vectors, envelopes=envelopes,
            publisher=ExportPublisher(paths.exports, collection), dagster_run_id=run_id_of(context),
            run_started=run_started, sparse_model=model_manager.sparse_model,
            vram=VramBudget(hard_cap_bytes=gpu.hard_cap_bytes, soft_limit_bytes=gpu.soft_limit_bytes, device=gpu.device),
            guards=gates.guard_settings(), chunks_run_id=run_id_of(context) if run_includes(context, "chunks") else None)
    except PublishRefused as exc:
        raise dg.Failure(str(exc), metadata={"problems": dg.MetadataValue.md(
            "\n".join(f"- {p}" for p in exc.problems))}) from exc
    manifest = json.loads(published.manifest_json)
    progress(context, f"summary: manifest {manifest['schema_version']} and {len(manifest['exports'])} export files "
                      f"in {paths.exports / collection}")
    _emit_run_span(context, collection, manifest, run_started)
    return dg.Output(published.table, metadata=summary_metadata(
        published.table, manifest, str(paths.exports / collection), published.folder.name,
        chunks_stage.lineage.folder_state))
