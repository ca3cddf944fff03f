"""The five assets, one partition per collection:
chunks → dense_embeddings → sparse_vectors → fused_vectors → processing_summary."""


import datetime as dt
import functools
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import dagster as dg
import pyarrow as pa

from embed_assets.core.batching import BatchEvent
from embed_assets.core.cache import SparseCache
from embed_assets.core.chunking import Chunker, ChunkingConfig, TokenLimit
from embed_assets.core.collection import chunk_collection
from embed_assets.core.dense import encode_dense_cached
from embed_assets.core.documents import ReadLimits, fingerprint_collection
from embed_assets.core.exports import write_fused_exports, write_manifest
from embed_assets.core.fusion import RRF_K, fusion_scales
from embed_assets.core.lexical import LexicalWeighter
from embed_assets.core.manifest import (
    Activation,
    BatchEventCounts,
    ChunksStage,
    DenseStage,
    ExportStage,
    FusionStage,
    ModelEntry,
    RunInfo,
    SparseInferenceRun,
    SparseStage,
    ToggleDecision,
    VramBudget,
)
from embed_assets.core.memory import trim_heap
from embed_assets.core.models import ModelIdentity, ModelUnavailable
from embed_assets.core.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.records import (
    chunks_to_table,
    fixed_size_vectors,
    list_l2_norms,
    sha256_hex,
    stage_metadata,
    table_to_chunks,
    with_stage_metadata,
)
from embed_assets.core.sparse import SparseVectorGenerator, generate_sharded
from embed_assets.core.sparse_stage import SPARSE_SCHEMA, lexical_output, probe_vector, sparse_sections, sparse_table
from embed_assets.core.storage import ExportPublisher
from embed_assets.core.summary import build_manifest
from embed_assets.core.telemetry import child_span, emit_run_span, record_batch_event, set_attributes, stage_span
from embed_assets.core.toggles import parse_flag, resolve_sparse
from embed_assets.core.validation import validate_before_publish
from resources import GpuLeaseResource, ModelManagerResource
from resources.model_manager import place

from .config import SPARSE_CLI_TAG, ChunksConfig, FusionConfig, SparseConfig
from .io_manager import LOAD_STAGE
from .metadata import fused_column_lineage, models_table, settings_markdown, table_metadata
from .partitions import collections_partitions
from .resources import PathsResource

GROUP = "embedding"
OWNERS = ["team:retrieval"]
progress_log = logging.getLogger("embed_assets.progress")


def _progress(context: dg.AssetExecutionContext, message: str) -> None:
    context.log.info(message)
    progress_log.info("[%s] %s", context.partition_key, message)


def _collection(context: dg.AssetExecutionContext) -> str:
    try:
        return validate_collection_name(context.partition_key)
    except UnsafeCollectionName as exc:
        raise dg.Failure(str(exc)) from exc


def _event_logger(context: dg.AssetExecutionContext) -> Any:
    def on_event(event: BatchEvent) -> None:
        record_batch_event(event)
        context.log.warning(f"{event.stage} on {event.device}: {event.kind} {event.old_batch_size} → "
                            f"{event.new_batch_size} at item {event.position} {event.detail}".strip())

    return on_event


def traced(name: str) -> Callable[[Callable[..., dg.Output]], Callable[..., dg.Output]]:
    """Run an asset inside its stage span (one trace per Dagster run); the output's
    numeric and text metadata become span attributes."""

    def decorate(fn: Callable[..., dg.Output]) -> Callable[..., dg.Output]:
        @functools.wraps(fn)
        def wrapper(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> dg.Output:
            with stage_span(name, context.run_id, context.partition_key) as span:
                output = fn(context, *args, **kwargs)
                trim_heap()  # the stage's temporaries are garbage now: give the pages back
                set_attributes(span, {k.replace("dagster/", ""): v.value if isinstance(v, dg.MetadataValue) else v
                                      for k, v in (output.metadata or {}).items()})
                return output

        return wrapper

    return decorate


def _estimate_bytes(n_params: int, batch: int, seq: int, width: int) -> int:
    """fp32 weights plus activations of one batch (a deliberate over-estimate)."""
    return 4 * n_params + 4 * batch * seq * width * 16


# ---------------------------------------------------------------------------- chunks
@dg.asset(
    partitions_def=collections_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    code_version="1",
    description="Documents of a collection split into token-aware chunks (ChunkRecord rows).",
)
@traced("chunks")
def chunks(context: dg.AssetExecutionContext, config: ChunksConfig, paths: PathsResource,
           model_manager: ModelManagerResource) -> dg.Output[pa.Table]:
    collection = _collection(context)
    folder = paths.collection_folder(collection)
    if not folder.is_dir():
        raise dg.Failure(f"collection folder {folder} does not exist")
    started = time.perf_counter()
    limits = [TokenLimit(name=ref, tokenizer=tok, max_tokens=limit)
              for ref, tok, limit in model_manager.dense_token_limits()]
    sparse_limit = model_manager.sparse_token_limit()
    if sparse_limit is not None:
        limits.append(TokenLimit(name=sparse_limit[0], tokenizer=sparse_limit[1], max_tokens=sparse_limit[2]))
    chunking = ChunkingConfig(chunk_tokens=config.chunk_tokens, overlap_tokens=config.overlap_tokens)
    chunker = Chunker(chunking, limits)
    result = chunk_collection(folder, collection, chunker, ReadLimits(max_file_bytes=config.max_file_bytes))
    records = result.chunks
    tokens = [c.token_count for c in records]
    truncated = sum(1 for t in tokens if t > min(limit.max_tokens for limit in limits))
    stage = ChunksStage(
        count=len(records), documents=result.accounting, chunk_tokens=chunker.window,
        overlap_tokens=chunker.overlap, max_tokens=min(limit.max_tokens for limit in limits),
        tokens_total=int(sum(tokens)), tokens_max=int(max(tokens, default=0)),
        truncated_chunks=truncated, truncated_share=truncated / len(records) if records else 0.0,
        tokenizer=limits[0].name, inputs_sha256=fingerprint_collection(folder),
        latency_ms=(time.perf_counter() - started) * 1000.0,
    )
    docs = result.accounting
    _progress(context, f"chunks: {len(records)} chunks from {docs.embedded} documents "
                       f"({docs.skipped} skipped of {docs.seen} seen)")
    table = with_stage_metadata(chunks_to_table(records), stage)
    return dg.Output(table, metadata={
        **table_metadata(table),
        "documents_seen": docs.seen,
        "documents_embedded": docs.embedded,
        "documents_skipped": docs.skipped,
        "skipped_by_reason": dg.MetadataValue.json(docs.skipped_by_reason),
        "tokens_total": stage.tokens_total,
        "latency_ms": round(stage.latency_ms, 1),
    })


# ---------------------------------------------------------------------------- dense
@dg.asset(
    partitions_def=collections_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "parquet"},
    code_version="1",
    pool="gpu",
    description="The dense ensemble: each model's L2-normalized vectors and their weighted aggregation.",
)
@traced("dense_embeddings")
def dense_embeddings(context: dg.AssetExecutionContext, chunks: pa.Table, gpu: GpuLeaseResource,
                     model_manager: ModelManagerResource, paths: PathsResource) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    with child_span("model_load", stage="dense", models=len(model_manager.dense_models)):
        models = model_manager.load_dense()
    texts = chunks.column("text").to_pylist()
    lengths = chunks.column("token_count").to_pylist()
    batch = model_manager.dense_batch_size
    longest = max(lengths, default=0) + 2
    estimate = sum(_estimate_bytes(sum(p.numel() for p in m.model_for("cpu").parameters()), batch, longest,
                                   m.identity.dim) for m in models)
    with gpu.lease("dense", estimate) as lease, \
            model_manager.on_lease([m.model_for("cpu") for m in models], lease):
        _progress(context, f"dense: lease on {lease.device} ({lease.reason})")
        encoding = encode_dense_cached(
            models, texts, lengths, chunks.column("content_hash").to_pylist(),
            paths.cache_folder(context.partition_key) if model_manager.reuse_cached_vectors else None,
            devices=lease.devices(), batch_size=batch,
            aggregation=model_manager.aggregation_method,
            make_batcher=lease.batcher_factory(batch, token_budget=model_manager.dense_token_budget),
            before_batch=lease.before_batch, on_event=_event_logger(context))
    latency = (time.perf_counter() - started) * 1000.0
    columns: dict[str, Any] = {
        "chunk_id": chunks.column("chunk_id"),
        "doc_id": chunks.column("doc_id"),
        "dense": fixed_size_vectors(encoding.ensemble),
    }
    for key, matrix in encoding.per_model.items():
        columns[f"dense__{key}"] = fixed_size_vectors(matrix)
    sizes = [b for r in encoding.runs for b in r.batch_sizes]
    stage = DenseStage(
        count=len(texts), dim=encoding.dim, aggregation=encoding.aggregation,
        models=[ModelEntry.of(r.key, r.identity, r.weight) for r in encoding.runs],
        devices=sorted({d for r in encoding.runs for d in r.devices}), batch_size=batch,
        min_batch_size=min(sizes, default=batch), oom_retries=sum(r.oom_retries for r in encoding.runs),
        batch_events=BatchEventCounts.of([e.kind for e in encoding.events]), unique_chunks=encoding.unique,
        encoded=encoding.encoded, encode_ms=sum(r.encode_ms for r in encoding.runs), latency_ms=latency,
    )
    peak = max((r.peak_memory_bytes for r in encoding.runs), default=0)
    table = with_stage_metadata(pa.table(columns), {"stage": stage.model_dump(mode="json"), "peak_vram_bytes": peak,
                                                    "events": [e.model_dump(mode="json") for e in encoding.events]})
    rate = len(texts) / (latency / 1000.0) if latency else 0.0
    _progress(context, f"dense: {len(texts)} chunks × {encoding.dim} dims on {', '.join(stage.devices)} "
                       f"({rate:.1f} chunks/s; {encoding.encoded} encoded, "
                       f"{len(texts) - encoding.encoded} from cache or duplicates)")
    return dg.Output(table, metadata={
        **table_metadata(table), "dim": encoding.dim, "models": ", ".join(r.key for r in encoding.runs),
        "devices": ", ".join(stage.devices), "chunks_per_s": round(rate, 2), "latency_ms": round(latency, 1),
        "batch_size_min": stage.min_batch_size, "oom_retries": stage.oom_retries, "peak_vram_bytes": peak,
        "encoded": encoding.encoded, "unique_chunks": encoding.unique,
    })


# ---------------------------------------------------------------------------- sparse
LEXICAL_ENV = "EMBED_ASSETS_LEXICAL"


def _lexical_enabled(config: SparseConfig) -> bool:
    if config.enable_lexical is not None:
        return config.enable_lexical
    raw = os.environ.get(LEXICAL_ENV, "")
    return parse_flag(raw, LEXICAL_ENV) if raw else False


def _sparse_decision(context: dg.AssetExecutionContext, config: SparseConfig) -> ToggleDecision:
    tag = context.run.tags.get(SPARSE_CLI_TAG)
    cli = None if tag is None else tag == "enable"
    return resolve_sparse(cli=cli, run_config=config.enable_sparse)


@dg.asset(
    partitions_def=collections_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"pytorch", "parquet"},
    code_version="1",
    pool="gpu",
    deps=["dense_embeddings"],
    description="SPLADE vectors, CPU-first, GPU under a lease, metadata-derived fallback. "
                "Skipped (zero rows) when sparse is disabled.",
)
@traced("sparse_vectors")
def sparse_vectors(context: dg.AssetExecutionContext, config: SparseConfig, chunks: pa.Table,
                   gpu: GpuLeaseResource, model_manager: ModelManagerResource,
                   paths: PathsResource) -> dg.Output[pa.Table]:
    decision = _sparse_decision(context, config)
    if not decision.enabled:
        _progress(context, f"sparse: disabled (decided by {decision.decided_by})")
        table = with_stage_metadata(SPARSE_SCHEMA.empty_table(),
                                    {"enabled": False, "decision": decision.model_dump(mode="json")})
        return dg.Output(table, metadata={**table_metadata(table), "enabled": False,
                                          "decided_by": decision.decided_by})
    started = time.perf_counter()
    records = table_to_chunks(chunks)
    model: Any = None
    identity: ModelIdentity | None = None
    reason: str | None = None
    try:
        with child_span("model_load", stage="sparse"):
            model, identity = model_manager.load_sparse()
        tokenizer = model.tokenizer
    except ModelUnavailable as exc:
        reason = f"sparse model unavailable: {exc}"
        context.log.warning(reason)
        tokenizer = model_manager.dense_token_limits()[0][1]
    lexical = LexicalWeighter(tokenizer)
    batch = model_manager.sparse_batch_size
    longest = max((c.token_count for c in records), default=0) + 2
    n_params = sum(p.numel() for p in model.parameters()) if model is not None else 0
    vocab = int(getattr(tokenizer, "vocab_size", 30522))
    estimate = _estimate_bytes(n_params, batch, longest, 128) + 4 * batch * longest * vocab
    want_gpu = model_manager.sparse_on_gpu and model is not None
    with gpu.lease("sparse", estimate, want_gpu=want_gpu) as lease, \
            model_manager.on_lease([model] if model is not None else [], lease):
        if want_gpu:
            _progress(context, f"sparse: lease on {lease.device} ({lease.reason})")
        generator = SparseVectorGenerator(
            sparse_model=model_manager.sparse_model, model_for=(lambda d: place(model, d)) if model else None,
            lexical=lexical, devices=lease.devices(), batch_size=batch, identity=identity,
            unavailable_reason=reason,
            make_batcher=lease.batcher_factory(batch, token_budget=model_manager.sparse_token_budget),
            before_batch=lease.before_batch, on_event=_event_logger(context))
        cache = (SparseCache(paths.cache_folder(context.partition_key), identity.weights_sha256)
                 if identity and model_manager.reuse_cached_vectors else None)
        stats = functools.cache(lambda: lexical.fit(records))  # fitted only if a fallback or lexical needs it
        sparse_vectors_table, result = generate_sharded(generator, records, cache, stats)
    lexical_columns, lexical_stage = lexical_output(lexical, records, stats()) if _lexical_enabled(config) \
        else (None, None)
    probe_vec = probe_vector(model, lexical, config.probe_query)
    latency = (time.perf_counter() - started) * 1000.0
    counts = result.source_counts
    stage, run = sparse_sections(
        records=records, vectors=sparse_vectors_table, result=result, sparse_model=model_manager.sparse_model,
        model=ModelEntry.of("sparse", identity) if identity else None, batch_size=batch, lexical=lexical_stage,
        probe=config.probe_query, probe_vec=probe_vec, latency_ms=latency)
    table = sparse_table(chunks.column("chunk_id"), sparse_vectors_table, lexical_columns)
    table = with_stage_metadata(table, {
        "enabled": True, "decision": decision.model_dump(mode="json"), "stage": stage.model_dump(mode="json"),
        "sparse_run": run.model_dump(mode="json"), "peak_vram_bytes": result.peak_memory_bytes,
        "events": [e.model_dump(mode="json") for e in result.events]})
    rate = len(records) / (latency / 1000.0) if latency else 0.0
    _progress(context, f"sparse: {len(records)} chunks on {', '.join(result.devices) or 'cpu'} ({rate:.1f} chunks/s), "
                       f"fallback {'used: ' + str(counts['metadata']) + ' chunks' if result.fallback_used else 'not used'}")
    return dg.Output(table, metadata={
        **table_metadata(table), "enabled": True, "decided_by": decision.decided_by,
        "fallback_used": result.fallback_used, "source_counts": dg.MetadataValue.json(counts),
        "coverage": round(stage.coverage, 4), "mean_nnz": round(stage.mean_nnz, 1), "chunks_per_s": round(rate, 2),
        "latency_ms": round(latency, 1), "oom_retries": result.oom_retries,
    })


# ---------------------------------------------------------------------------- fused
@dg.asset(
    partitions_def=collections_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"python", "parquet"},
    code_version="1",
    description="Hybrid records: dense vector, sparse vector and fusion parameters per chunk "
                "(dense-only records when sparse is disabled).",
)
@traced("fused_vectors")
def fused_vectors(context: dg.AssetExecutionContext, config: FusionConfig, chunks: pa.Table,
                  dense_embeddings: pa.Table, sparse_vectors: pa.Table) -> dg.Output[pa.Table]:
    started = time.perf_counter()
    sparse_meta = stage_metadata(sparse_vectors.schema)
    enabled = bool(sparse_meta.get("enabled"))
    ids = chunks.column("chunk_id")
    if not dense_embeddings.column("chunk_id").equals(ids):
        raise dg.Failure("dense_embeddings rows do not match chunks; re-materialize dense_embeddings")
    if enabled and not sparse_vectors.column("chunk_id").equals(ids):
        raise dg.Failure("sparse_vectors rows do not match chunks; re-materialize sparse_vectors")
    alpha = config.alpha if enabled else 1.0
    d_scale, s_scale = fusion_scales(alpha)
    n = chunks.num_rows
    columns: dict[str, Any] = {name: chunks.column(name) for name in
                               ("chunk_id", "doc_id", "collection", "ordinal", "source_path", "title", "text",
                                "token_count")}
    columns["dense"] = dense_embeddings.column("dense")
    if enabled:
        values = sparse_vectors.column("sparse_values")
        norms = list_l2_norms(values)
        columns.update({
            "sparse_indices": sparse_vectors.column("sparse_indices"),
            "sparse_values": values,
            "sparse_source": sparse_vectors.column("sparse_source"),
            "sparse_norm": pa.array(norms, type=pa.float32()),
        })
        if "lexical_indices" in sparse_vectors.column_names:
            columns["lexical_indices"] = sparse_vectors.column("lexical_indices")
            columns["lexical_values"] = sparse_vectors.column("lexical_values")
    columns.update({
        "fusion_mode": pa.array(["hybrid" if enabled else "dense_only"] * n, type=pa.string()),
        "fusion_alpha": pa.array([alpha] * n, type=pa.float32()),
        "dense_scale": pa.array([d_scale] * n, type=pa.float32()),
        "sparse_scale": pa.array([s_scale] * n, type=pa.float32()),
    })
    stage = FusionStage(count=n, mode="hybrid" if enabled else "dense_only", alpha=alpha, dense_scale=d_scale,
                        sparse_scale=s_scale, rrf_k=RRF_K, latency_ms=(time.perf_counter() - started) * 1000.0)
    table = with_stage_metadata(pa.table(columns), {"stage": stage.model_dump(mode="json"), "sparse_enabled": enabled})
    _progress(context, f"fusion: {n} {stage.mode} records (α={alpha})")
    return dg.Output(table, metadata={**table_metadata(table), "mode": stage.mode, "alpha": alpha,
                                      "dagster/column_lineage": fused_column_lineage(table.column_names)})


# ---------------------------------------------------------------------------- summary
SUMMARY_SCHEMA = pa.schema([
    pa.field("collection", pa.string()),
    pa.field("schema_version", pa.string()),
    pa.field("manifest_json", pa.string()),
    pa.field("manifest_sha256", pa.string()),
    pa.field("export_version", pa.string()),
])


def _package_version() -> str:
    try:
        return version("embed_assets")
    except PackageNotFoundError:
        return "0+unknown"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


@dg.asset(
    partitions_def=collections_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"json", "parquet"},
    code_version="1",
    ins={
        "fused_vectors": dg.AssetIn(),
        "chunks_stage": dg.AssetIn(key="chunks", metadata=LOAD_STAGE),
        "dense_stage": dg.AssetIn(key="dense_embeddings", metadata=LOAD_STAGE),
        "sparse_stage": dg.AssetIn(key="sparse_vectors", metadata=LOAD_STAGE),
    },
    description="The manifest (processing_summary.json, v4.0 or v4.1) and the collection's exports, "
                "validated and then published atomically.",
)
@traced("processing_summary")
def processing_summary(context: dg.AssetExecutionContext, fused_vectors: pa.Table, chunks_stage: dict[str, Any],
                       dense_stage: dict[str, Any], sparse_stage: dict[str, Any], paths: PathsResource,
                       gpu: GpuLeaseResource, model_manager: ModelManagerResource) -> dg.Output[pa.Table]:
    collection = _collection(context)
    started = time.perf_counter()
    stats = context.instance.get_run_stats(context.run_id)
    run_started = stats.start_time or time.time()
    fused_meta = stage_metadata(fused_vectors.schema)
    enabled = bool(sparse_stage.get("enabled"))
    decision = ToggleDecision.model_validate(sparse_stage["decision"])
    dense = DenseStage.model_validate(dense_stage["stage"])
    sparse = SparseStage.model_validate(sparse_stage["stage"]) if enabled else None
    sparse_run = SparseInferenceRun.model_validate(sparse_stage["sparse_run"]) if enabled else None
    publisher = ExportPublisher(paths.exports, collection)
    previous = publisher.current()
    export_version = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}-{context.run_id[:8]}"
    with publisher.staging() as folder:
        with child_span("export", rows=fused_vectors.num_rows):
            exports = write_fused_exports(folder, fused_vectors)
        export_stage = ExportStage(files=len(exports) + 1, rows=fused_vectors.num_rows,
                                   latency_ms=(time.perf_counter() - started) * 1000.0)
        manifest = build_manifest(
            collection=collection,
            run=RunInfo(run_id=str(uuid.uuid4()), dagster_run_id=context.run_id, partition_key=context.partition_key,
                        started_at=_iso(run_started), finished_at=_iso(time.time()),
                        package_version=_package_version()),
            chunks=ChunksStage.model_validate(chunks_stage), dense=dense,
            dense_peak_vram=int(dense_stage.get("peak_vram_bytes", 0)), sparse=sparse,
            sparse_peak_vram=int(sparse_stage.get("peak_vram_bytes", 0)), sparse_run=sparse_run,
            fusion=FusionStage.model_validate(fused_meta["stage"]), export=export_stage, exports=exports,
            activation=Activation(sparse=decision, dense_models=[m.key for m in dense.models],
                                  sparse_model=model_manager.sparse_model,
                                  features={"sparse": enabled, "fusion_hybrid": enabled,
                                            "sparse_fallback": bool(sparse and sparse.fallback_used),
                                            "lexical": bool(sparse and sparse.lexical),
                                            "gpu": any(d != "cpu" for d in dense.devices + (sparse.devices if sparse else []))}),
            vram=VramBudget(hard_cap_bytes=gpu.hard_cap_bytes, soft_limit_bytes=gpu.soft_limit_bytes,
                            device=gpu.device),
            total_wall_ms=(time.time() - run_started) * 1000.0,
        )
        manifest_json = manifest.model_dump_json(indent=2)
        problems = validate_before_publish(json.loads(manifest_json), previous)
        if problems:
            raise dg.Failure(
                f"manifest of {collection} failed validation; the last good export stays published",
                metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))},
            )
        write_manifest(folder, manifest_json)
        with child_span("publish", version=export_version):
            final = publisher.publish(folder, export_version)
    _progress(context, f"summary: manifest {manifest.schema_version} and {len(exports)} export files in "
                       f"{paths.exports / collection}")
    emit_run_span(context.run_id, collection, int(run_started * 1e9), time.time_ns(), {
        "schema_version": manifest.schema_version, "chunks": manifest.stages.chunks.count,
        "documents_seen": manifest.stages.chunks.documents.seen, "sparse_enabled": enabled,
        "fallback_used": bool(sparse and sparse.fallback_used), "peak_vram_bytes": manifest.performance.peak_vram_bytes,
        "total_wall_ms": manifest.performance.total_wall_ms})
    table = pa.table({"collection": [collection], "schema_version": [manifest.schema_version],
                      "manifest_json": [manifest_json], "manifest_sha256": [sha256_hex(manifest_json)],
                      "export_version": [final.name]}, schema=SUMMARY_SCHEMA)
    manifest_doc = json.loads(manifest_json)
    return dg.Output(table, metadata={
        **table_metadata(table),
        "schema_version": manifest.schema_version,
        "models": models_table(manifest_doc),
        "settings": settings_markdown(manifest_doc),
        "export_dir": dg.MetadataValue.path(str(paths.exports / collection)),
        "export_version": final.name,
        "documents_seen": manifest.stages.chunks.documents.seen,
        "documents_skipped": manifest.stages.chunks.documents.skipped,
        "chunks": manifest.stages.chunks.count,
        "sparse": f"{'on' if enabled else 'off'} (decided by {decision.decided_by})",
        "total_wall_ms": round(manifest.performance.total_wall_ms, 1),
    })


ALL_ASSETS = [chunks, dense_embeddings, sparse_vectors, fused_vectors, processing_summary]
