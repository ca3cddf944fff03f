"""``fused_vectors``: hybrid records — dense vector, sparse vector and fusion parameters per chunk."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.manifest.envelopes import SparseEnvelope, read_envelope
from embed_assets.core.stages.fusion import StageInputMismatch, run_fusion_stage

from ..config import FusionConfig
from ..metadata import fused_metadata
from .common import asset_options, progress, traced


@dg.asset(**asset_options(kinds={"python", "parquet"}, description=(
    "Hybrid records: dense vector, sparse vector and fusion parameters per chunk "
    "(dense-only records when sparse is disabled).")))
@traced("fused_vectors")
def fused_vectors(context: dg.AssetExecutionContext, config: FusionConfig, chunks: pa.Table,
                  dense_embeddings: pa.Table, sparse_vectors: pa.Table) -> dg.Output[pa.Table]:
    sparse = read_envelope(sparse_vectors.schema, SparseEnvelope)
    try:
        table, envelope = run_fusion_stage(chunks, dense_embeddings, sparse_vectors, sparse_enabled=sparse.enabled,
                                           alpha=config.alpha)
    except StageInputMismatch as exc:
        raise dg.Failure(str(exc)) from exc
    progress(context, f"fusion: {envelope.stage.count} {envelope.stage.mode} records (α={envelope.stage.alpha})")
    return dg.Output(table, metadata=fused_metadata(table, envelope))
