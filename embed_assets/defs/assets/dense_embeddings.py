"""``dense_embeddings``: every chunk encoded by the dense ensemble under a GPU lease.

A graph-backed asset: ``dense_plan`` splits the collection's distinct chunks into shards,
``dense_shard`` encodes one shard per step (the ``gpu`` pool and queue; steps of different
shards run side by side on different workers), ``dense_merge`` puts them back in chunk
order, writes the embedding cache and is the asset's output. One shard by default.
"""

import time
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from embed_assets.core.devices.vram import dense_stage_bytes
from embed_assets.core.encode.shards import ShardCoverageError, ShardSpec
from embed_assets.core.stages.dense import merge_dense_shards, run_dense_shard
from embed_assets.core.storage.crash import fail_point
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..config import DENSE_CONFIG, ShardsConfig
from ..metadata import dense_metadata, rate
from ..resources import FeaturesResource, PathsResource
from ..shard_metadata import dense_shard_metadata
from ..steps import GPU_POOL, GPU_STEP_TAGS
from .common import event_logger, graph_options, progress, traced
from .sharding import prune_step_outputs, requested_shards, shard_outputs


@dg.op(out=dg.DynamicOut(ShardSpec), description="Split the distinct chunks into shards balanced by tokens.")
def dense_plan(context: dg.OpExecutionContext, config: ShardsConfig, chunks: pa.Table,
               features: FeaturesResource) -> Iterator[dg.DynamicOutput]:
    requested, decided_by = requested_shards(context, config.shards, features)
    yield from shard_outputs(context, "dense", chunks, requested, decided_by)


@dg.op(pool=GPU_POOL, tags=GPU_STEP_TAGS, description="Encode one shard with the dense ensemble under a GPU lease.")
@traced("dense_embeddings")
def dense_shard(context: dg.OpExecutionContext, chunks: pa.Table, shard: ShardSpec, gpu: GpuLeaseResource,
                model_manager: ModelManagerResource, paths: PathsResource) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    fail_point(f"dense_shard:{shard.index}")
    models = model_manager.load_dense()
    settings = model_manager.dense_settings(paths.cache_folder(context.partition_key))
    longest = max(chunks.column("token_count").to_pylist(), default=0) + 2
    estimate = dense_stage_bytes([(m.model_for("cpu"), m.identity.dim) for m in models], settings.batch_size, longest)
    with gpu.lease("dense", estimate) as lease, model_manager.on_lease([m.model_for("cpu") for m in models], lease):
        progress(context, f"dense {shard.key}: lease on {lease.device} ({lease.reason})")
        table, envelope = run_dense_shard(chunks, shard, models, lease, settings, started=started,
                                          on_event=event_logger(context))
    st = envelope.stage
    progress(context, f"dense {shard.key}: {st.count} distinct chunks on {', '.join(st.devices)} "
                      f"({rate(st.count, st.latency_ms):.1f} chunks/s; {st.encoded} encoded, "
                      f"{st.count - st.encoded} from cache)")
    return dg.Output(table, metadata=dense_shard_metadata(table, envelope))


@dg.op(description="Merge the shards in chunk order, aggregate the ensemble and write the embedding cache.")
@traced("dense_embeddings.merge")
def dense_merge(context: dg.OpExecutionContext, chunks: pa.Table, shards: list[pa.Table], paths: PathsResource,
                model_manager: ModelManagerResource) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    cache = paths.cache_folder(context.partition_key) if model_manager.reuse_cached_vectors else None
    try:
        table, envelope = merge_dense_shards(chunks, shards, cache, started=started)
    except ShardCoverageError as exc:
        raise dg.Failure(str(exc)) from exc
    prune_step_outputs(context, paths.storage)
    st = envelope.stage
    progress(context, f"dense: {st.count} chunks × {st.dim} dims from {st.shards} shard(s) on "
                      f"{', '.join(st.devices)} ({st.encoded} encoded, {st.count - st.encoded} from cache or "
                      "duplicates)")
    return dg.Output(table, metadata=dense_metadata(table, envelope))


@dg.graph_asset(**graph_options(kinds={"pytorch", "parquet"}, config=DENSE_CONFIG, description=(
    "The dense ensemble: each model's L2-normalized vectors and their weighted aggregation, "
    "encoded in shards (one step each, pool gpu) and merged in chunk order.")))
def dense_embeddings(chunks):
    return dense_merge(chunks, dense_plan(chunks).map(lambda shard: dense_shard(chunks, shard)).collect())
