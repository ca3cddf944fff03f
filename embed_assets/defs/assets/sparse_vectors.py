"""``sparse_vectors``: SPLADE vectors, CPU-first, GPU under a lease, metadata-derived fallback."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.encode.sparse import SparseInferenceResult
from embed_assets.core.manifest.envelopes import SparseEnvelope, lineage_of
from embed_assets.core.manifest.models import ToggleDecision
from embed_assets.core.stages.sparse import SparseSettings, SparseStageRun, disabled_sparse_stage
from embed_assets.core.toggles import resolve_sparse
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..config import SPARSE_CLI_TAG, SparseConfig
from ..metadata import rate, sparse_metadata
from ..resources import FeaturesResource, PathsResource
from .common import asset_options, event_logger, progress, traced


def sparse_decision(context: dg.AssetExecutionContext, config: SparseConfig, features: FeaturesResource) -> ToggleDecision:
    """CLI flag (a run tag) > run config > environment > default."""
    tag = context.op_execution_context.run_tags.get(SPARSE_CLI_TAG)
    return resolve_sparse(cli=None if tag is None else tag == "enable", run_config=config.enable_sparse,
                          environment=features.sparse)


def stage_settings(context: dg.AssetExecutionContext, config: SparseConfig, model_manager: ModelManagerResource,
                   paths: PathsResource, features: FeaturesResource) -> SparseSettings:
    """Lexical vectors: run config > environment > off."""
    lexical = config.enable_lexical if config.enable_lexical is not None else bool(features.lexical)
    return model_manager.sparse_settings(paths.cache_folder(context.partition_key), lexical=lexical,
                                         probe_query=config.probe_query)


def _done_line(envelope: SparseEnvelope, result: SparseInferenceResult) -> str:
    count = envelope.stage.count if envelope.stage else 0
    fallback = f"used: {result.source_counts['metadata']} chunks" if result.fallback_used else "not used"
    return (f"sparse: {count} chunks on {', '.join(result.devices) or 'cpu'} "
            f"({rate(count, envelope.stage.latency_ms if envelope.stage else 0):.1f} chunks/s), fallback {fallback}")


@dg.asset(**asset_options(kinds={"pytorch", "parquet"}, pool="gpu", deps=["dense_embeddings"], description=(
    "SPLADE vectors, CPU-first, GPU under a lease, metadata-derived fallback. "
    "Skipped (zero rows) when sparse is disabled.")))
@traced("sparse_vectors")
def sparse_vectors(context: dg.AssetExecutionContext, config: SparseConfig, chunks: pa.Table, gpu: GpuLeaseResource,
                   model_manager: ModelManagerResource, paths: PathsResource,
                   features: FeaturesResource) -> dg.Output[pa.Table]:
    decision = sparse_decision(context, config, features)
    if not decision.enabled:
        progress(context, f"sparse: disabled (decided by {decision.decided_by})")
        table, envelope = disabled_sparse_stage(decision, lineage_of(chunks))
        return dg.Output(table, metadata=sparse_metadata(table, envelope))
    choice = model_manager.choose_sparse()
    if choice.unavailable_reason:
        context.log.warning(choice.unavailable_reason)
    settings = stage_settings(context, config, model_manager, paths, features)
    stage = SparseStageRun(chunks, choice, settings, decision, on_event=event_logger(context))
    want_gpu = model_manager.sparse_on_gpu and stage.has_model
    with gpu.lease("sparse", stage.estimate_bytes(), want_gpu=want_gpu) as lease, \
            model_manager.on_lease([choice.model] if choice.model is not None else [], lease):
        if want_gpu:
            progress(context, f"sparse: lease on {lease.device} ({lease.reason})")
        result = stage.encode(lease)
    table, envelope = stage.finish()
    progress(context, _done_line(envelope, result))
    return dg.Output(table, metadata=sparse_metadata(table, envelope))
