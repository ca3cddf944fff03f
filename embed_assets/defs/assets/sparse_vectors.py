"""``sparse_vectors``: SPLADE vectors, CPU-first, GPU under a lease, metadata-derived fallback.

A graph-backed asset: ``sparse_plan`` decides the toggle and splits the distinct chunks into
shards (none when sparse is off), ``sparse_shard`` encodes one shard per step (the ``gpu``
pool and queue), ``sparse_merge`` puts them back in chunk order, writes the cache, adds the
lexical vectors and the probe query, and is the asset's output.
"""

import time
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from embed_assets.core.encode.shards import ShardCoverageError, ShardSpec
from embed_assets.core.manifest.envelopes import DenseEnvelope, SparseEnvelope, lineage_of
from embed_assets.core.manifest.models import ToggleDecision
from embed_assets.core.stages.sparse import SparseSettings, SparseShardRun, disabled_sparse_stage, merge_sparse_shards
from embed_assets.core.storage.crash import fail_point
from embed_assets.core.toggles import resolve_sparse
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..config import SPARSE_CLI_TAG, SPARSE_CONFIG, SparseMergeConfig, SparsePlanConfig
from ..io_manager import LOAD_ENVELOPE
from ..metadata import rate, sparse_metadata
from ..resources import FeaturesResource, PathsResource
from ..shard_metadata import sparse_shard_metadata
from ..steps import GPU_POOL, GPU_STEP_TAGS
from .common import event_logger, graph_options, progress, traced
from .sharding import prune_step_outputs, requested_shards, shard_outputs


def sparse_decision(context: dg.OpExecutionContext, enable_sparse: bool | None,
                    features: FeaturesResource) -> ToggleDecision:
    """CLI flag (a run tag) > run config > environment > default."""
    tag = context.op_execution_context.run_tags.get(SPARSE_CLI_TAG)
    return resolve_sparse(cli=None if tag is None else tag == "enable", run_config=enable_sparse,
                          environment=features.sparse)


def stage_settings(context: dg.OpExecutionContext, config: SparseMergeConfig, model_manager: ModelManagerResource,
                   paths: PathsResource, features: FeaturesResource) -> SparseSettings:
    """Lexical vectors: run config > environment > off."""
    lexical = config.enable_lexical if config.enable_lexical is not None else bool(features.lexical)
    return model_manager.sparse_settings(paths.cache_folder(context.partition_key), lexical=lexical,
                                         probe_query=config.probe_query)


def _done_line(envelope: SparseEnvelope) -> str:
    st = envelope.stage
    assert st is not None
    fallback = f"used: {st.source_counts['metadata']} chunks" if st.fallback_used else "not used"
    return (f"sparse: {st.count} chunks from {st.shards} shard(s) on {', '.join(st.devices) or 'cpu'} "
            f"({rate(st.count, st.latency_ms):.1f} chunks/s), fallback {fallback}")


@dg.op(ins={"dense_embeddings": dg.In(metadata=LOAD_ENVELOPE)},
       out={"shards": dg.DynamicOut(ShardSpec), "decision": dg.Out(ToggleDecision)},
       description="Decide whether sparse runs (after the dense stage) and split the distinct chunks into shards.")
def sparse_plan(context: dg.OpExecutionContext, config: SparsePlanConfig, chunks: pa.Table,
                dense_embeddings: DenseEnvelope, features: FeaturesResource) -> Iterator[dg.Output | dg.DynamicOutput]:
    decision = sparse_decision(context, config.enable_sparse, features)
    if decision.enabled:
        requested, decided_by = requested_shards(context, config.shards, features)
        yield from shard_outputs(context, "sparse", chunks, requested, decided_by, output_name="shards")
    yield dg.Output(decision, output_name="decision", metadata={"enabled": decision.enabled,
                                                                "decided_by": decision.decided_by})


@dg.op(pool=GPU_POOL, tags=GPU_STEP_TAGS, description="Encode one shard with SPLADE, CPU first, GPU under a lease.")
@traced("sparse_vectors")
def sparse_shard(context: dg.OpExecutionContext, chunks: pa.Table, shard: ShardSpec, gpu: GpuLeaseResource,
                 model_manager: ModelManagerResource, paths: PathsResource) -> dg.Output[pa.Table]:
    fail_point(f"sparse_shard:{shard.index}")
    choice = model_manager.choose_sparse()
    if choice.unavailable_reason:
        context.log.warning(choice.unavailable_reason)
    settings = model_manager.sparse_settings(paths.cache_folder(context.partition_key), lexical=False, probe_query="")
    run = SparseShardRun(chunks, shard, choice, settings, on_event=event_logger(context))
    want_gpu = model_manager.sparse_on_gpu and run.has_model
    with gpu.lease("sparse", run.estimate_bytes(), want_gpu=want_gpu) as lease, \
            model_manager.on_lease([choice.model] if choice.model is not None else [], lease):
        if want_gpu:
            progress(context, f"sparse {shard.key}: lease on {lease.device} ({lease.reason})")
        table, envelope = run.encode(lease)
    r = envelope.result
    progress(context, f"sparse {shard.key}: {shard.size} distinct chunks on {', '.join(r.devices) or 'cpu'} "
                      f"({r.encoded} encoded), fallback {'used' if r.fallback_used else 'not used'}")
    return dg.Output(table, metadata=sparse_shard_metadata(table, envelope))


@dg.op(description="Merge the shards in chunk order, write the cache, add lexical vectors and the probe query.")
@traced("sparse_vectors.merge")
def sparse_merge(context: dg.OpExecutionContext, config: SparseMergeConfig, chunks: pa.Table,
                 decision: ToggleDecision, shards: list[pa.Table], model_manager: ModelManagerResource,
                 paths: PathsResource, features: FeaturesResource) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    if not decision.enabled:
        progress(context, f"sparse: disabled (decided by {decision.decided_by})")
        table, envelope = disabled_sparse_stage(decision, lineage_of(chunks))
        return dg.Output(table, metadata=sparse_metadata(table, envelope))
    settings = stage_settings(context, config, model_manager, paths, features)
    try:
        table, envelope = merge_sparse_shards(chunks, shards, model_manager.choose_sparse(), settings, decision,
                                              started=started)
    except ShardCoverageError as exc:
        raise dg.Failure(str(exc)) from exc
    prune_step_outputs(context, paths.storage)
    progress(context, _done_line(envelope))
    return dg.Output(table, metadata=sparse_metadata(table, envelope))


@dg.graph_asset(**graph_options(kinds={"pytorch", "parquet"}, config=SPARSE_CONFIG, description=(
    "SPLADE vectors, CPU-first, GPU under a lease, metadata-derived fallback; encoded in shards (one step each, "
    "pool gpu) and merged in chunk order. Skipped (zero rows) when sparse is disabled.")))
def sparse_vectors(chunks, dense_embeddings):
    shards, decision = sparse_plan(chunks, dense_embeddings)
    return sparse_merge(chunks, decision, shards.map(lambda shard: sparse_shard(chunks, shard)).collect())
