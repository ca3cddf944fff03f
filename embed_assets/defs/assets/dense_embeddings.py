"""``dense_embeddings``: every chunk encoded by the dense ensemble under a GPU lease."""

import time

import dagster as dg
import pyarrow as pa

from embed_assets.core.devices.vram import dense_stage_bytes
from embed_assets.core.stages.dense import run_dense_stage
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..metadata import dense_metadata, rate
from ..resources import PathsResource
from .common import asset_options, event_logger, progress, traced


@dg.asset(**asset_options(kinds={"pytorch", "parquet"}, pool="gpu", description=(
    "The dense ensemble: each model's L2-normalized vectors and their weighted aggregation.")))
@traced("dense_embeddings")
def dense_embeddings(context: dg.AssetExecutionContext, chunks: pa.Table, gpu: GpuLeaseResource,
                     model_manager: ModelManagerResource, paths: PathsResource) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    models = model_manager.load_dense()
    settings = model_manager.dense_settings(paths.cache_folder(context.partition_key))
    longest = max(chunks.column("token_count").to_pylist(), default=0) + 2
    estimate = dense_stage_bytes([(m.model_for("cpu"), m.identity.dim) for m in models], settings.batch_size, longest)
    with gpu.lease("dense", estimate) as lease, model_manager.on_lease([m.model_for("cpu") for m in models], lease):
        progress(context, f"dense: lease on {lease.device} ({lease.reason})")
        table, envelope = run_dense_stage(chunks, models, lease, settings, started=started,
                                          on_event=event_logger(context))
    st = envelope.stage
    progress(context, f"dense: {st.count} chunks × {st.dim} dims on {', '.join(st.devices)} "
                      f"({rate(st.count, st.latency_ms):.1f} chunks/s; {st.encoded} encoded, "
                      f"{st.count - st.encoded} from cache or duplicates)")
    return dg.Output(table, metadata=dense_metadata(table, envelope))
