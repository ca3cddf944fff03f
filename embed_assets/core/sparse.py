"""The sparse stage: SPLADE vectors, CPU-first, with a fallback chain
GPU → CPU → metadata-derived lexical vectors.

``SparseVectorGenerator.generate(chunks)`` returns one vector per chunk, in input
order, and says for every chunk which source produced it.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from .batching import BatcherFactory, BatchEvent, fixed_batcher_factory, run_on_devices
from .cache import SparseCache, unique_first
from .lexical import CollectionStats, LexicalWeighter
from .memory import trim_heap
from .models import ModelIdentity
from .records import ChunkRecord, SparseSource, SparseVector, sparse_columns
from .telemetry import child_span

SPARSE_TABLE_SCHEMA = pa.schema([
    pa.field("sparse_indices", pa.list_(pa.int32())),
    pa.field("sparse_values", pa.list_(pa.float32())),
    pa.field("sparse_source", pa.string()),
])


class SparseInferenceResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectors: list[SparseVector]
    sources: list[SparseSource]
    sparse_model: str
    model_identity: ModelIdentity | None = None
    fallback_used: bool
    fallback_reason: str | None = Field(default=None, description="Why a fallback ran; never contains chunk text.")
    latency_ms: float
    devices: list[str]
    batch_sizes: list[int] = Field(default_factory=list)
    oom_retries: int = 0
    soft_limit_exceedances: int = 0
    peak_memory_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)

    unique: int = 0
    encoded: int = 0
    encode_ms: float = Field(default=0.0, description="Time inside model batches (the embedding work itself).")

    @property
    def source_counts(self) -> dict[str, int]:
        counts = Counter(self.sources)
        return {s: counts.get(s, 0) for s in ("model-gpu", "model-cpu", "metadata")}


def rows_to_sparse(batch: Any) -> list[SparseVector]:
    """A (B, V) torch tensor (dense or sparse COO) to sorted per-row sparse vectors."""
    import torch

    if batch.is_sparse:
        batch = batch.coalesce()
        idx = batch.indices().cpu().numpy()
        val = batch.values().float().cpu().numpy()
        rows, cols = idx[0], idx[1]
    else:
        dense = batch.float().cpu()
        rows_t, cols_t = torch.nonzero(dense, as_tuple=True)
        rows, cols = rows_t.numpy(), cols_t.numpy()
        val = dense[rows_t, cols_t].numpy()
    order = np.lexsort((cols, rows))
    rows, cols, val = rows[order], cols[order], val[order]
    bounds = np.searchsorted(rows, np.arange(batch.shape[0] + 1))
    return [
        SparseVector(indices=cols[bounds[r]:bounds[r + 1]].astype(np.int64).tolist(),
                     values=val[bounds[r]:bounds[r + 1]].astype(np.float32).tolist())
        for r in range(batch.shape[0])
    ]


class SparseVectorGenerator:
    """Generate SPLADE vectors for chunks.

    ``model_for(device)`` returns the SPLADE ``SparseEncoder`` placed on a device, or
    raises when the model is unavailable; ``devices`` is the chain to try (a leased
    GPU first when there is one, then ``"cpu"``). Chunks the chain cannot encode get
    metadata-derived vectors from ``lexical``.
    """

    def __init__(
        self,
        *,
        sparse_model: str,
        model_for: Callable[[str], Any] | None,
        lexical: LexicalWeighter,
        devices: Sequence[str] = ("cpu",),
        batch_size: int = 32,
        identity: ModelIdentity | None = None,
        unavailable_reason: str | None = None,
        make_batcher: BatcherFactory | None = None,
        before_batch: Callable[[str, int, int], None] | None = None,
        on_event: Callable[[BatchEvent], None] | None = None,
    ) -> None:
        self.sparse_model = sparse_model
        self.model_for = model_for
        self.lexical = lexical
        self.devices = list(devices)
        self.batch_size = batch_size
        self.identity = identity
        self.unavailable_reason = unavailable_reason
        self.make_batcher = make_batcher or fixed_batcher_factory(batch_size)
        self.before_batch = before_batch
        self.on_event = on_event

    def generate(self, chunks: Sequence[ChunkRecord],
                 collection_stats: Callable[[], CollectionStats] | None = None) -> SparseInferenceResult:
        """Vectors for ``chunks``. The metadata fallback, when needed, takes its statistics from
        ``collection_stats()`` (default: statistics of ``chunks`` themselves)."""
        started = time.perf_counter()
        n = len(chunks)
        events: list[BatchEvent] = []

        def emit(event: BatchEvent) -> None:
            events.append(event)
            if self.on_event:
                self.on_event(event)

        vectors: list[SparseVector | None] = [None] * n
        sources: list[SparseSource | None] = [None] * n
        order = np.argsort(-np.asarray([c.token_count for c in chunks], dtype=np.int64), kind="stable")
        texts = [chunks[i].text for i in order]
        lengths = [chunks[i].token_count for i in order]
        reason = self.unavailable_reason
        done = 0
        batchers: list[Any] = []
        devices_used: set[str] = set()
        if self.model_for is not None and n:
            def encode(device: str, a: int, b: int) -> list[SparseVector]:
                if self.before_batch:
                    self.before_batch(device, b - a, sum(lengths[a:b]))
                model = self.model_for(device)
                out = model.encode(texts[a:b], batch_size=b - a, convert_to_tensor=True,
                                   convert_to_sparse_tensor=True, show_progress_bar=False)
                return rows_to_sparse(out)

            try:
                segments, done, batchers = run_on_devices(
                    n, self.devices, lambda d: self.make_batcher("sparse", d, emit), encode, on_event=emit,
                    lengths=lengths)
            except Exception as exc:  # noqa: BLE001 - a model failure falls back, it does not stop the stage
                segments, done = [], 0
                reason = f"sparse model failed: {type(exc).__name__}"
            for seg in segments:
                src: SparseSource = "model-cpu" if seg.device == "cpu" else "model-gpu"
                devices_used.add(seg.device)
                for offset, vec in enumerate(seg.output):
                    i = int(order[seg.start + offset])
                    vectors[i] = vec
                    sources[i] = src
            if done < n and reason is None:
                reason = "every device ran out of memory at the minimum batch size"
        elif n and reason is None:
            reason = "no sparse model configured"

        missing = [i for i in range(n) if vectors[i] is None]
        if missing:
            with child_span("fallback", stage="sparse", source="metadata", chunks=len(missing)):
                stats = collection_stats() if collection_stats is not None else self.lexical.fit(chunks)
                fallback = self.lexical.vectors([chunks[i] for i in missing], stats)
            for i, vec in zip(missing, fallback):
                vectors[i] = vec
                sources[i] = "metadata"
            emit(BatchEvent(stage="sparse", device="cpu", kind="metadata_fallback", old_batch_size=0,
                            new_batch_size=0, position=done, detail=f"{len(missing)} chunks: {reason}"))
        return SparseInferenceResult(
            vectors=[v for v in vectors if v is not None],
            sources=[s for s in sources if s is not None],
            sparse_model=self.sparse_model,
            model_identity=self.identity,
            fallback_used=bool(missing),
            fallback_reason=reason if missing else None,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            devices=sorted(devices_used | ({"cpu"} if missing else set())),
            batch_sizes=[b for bt in batchers for b in bt.stats.batch_sizes],
            oom_retries=sum(bt.stats.oom_retries for bt in batchers),
            soft_limit_exceedances=sum(bt.stats.soft_limit_exceedances for bt in batchers),
            peak_memory_bytes=max((bt.stats.peak_memory_bytes for bt in batchers), default=0),
            encode_ms=sum(bt.stats.busy_s for bt in batchers) * 1000.0,
            events=events,
        )


SHARD_SIZE = 2048


def generate_sharded(generator: SparseVectorGenerator, chunks: Sequence[ChunkRecord], cache: SparseCache | None,
                     stats: Callable[[], CollectionStats] | None = None, shard_size: int = SHARD_SIZE,
                     ) -> tuple[pa.Table, SparseInferenceResult]:
    """The sparse stage over a whole collection, in bounded shards.

    Identical chunks are encoded once and cached model vectors (same weights, same content
    hash) are reused. Each shard's vectors become Arrow arrays at once, so memory holds
    one shard of Python objects, not the collection's. Returns a table of
    ``sparse_indices``, ``sparse_values``, ``sparse_source`` in chunk order, and the run's
    figures (its ``vectors`` hold only the first shard's, as a sample). Metadata-derived
    vectors are never cached: they depend on the whole collection's statistics.
    """
    started = time.perf_counter()
    hashes = [c.content_hash for c in chunks]
    firsts, inverse = unique_first(hashes)
    view = cache.load() if cache is not None else None
    todo = [j for j, i in enumerate(firsts) if view is None or hashes[i] not in view.rows]
    stats = stats or functools.cache(lambda: generator.lexical.fit(chunks))
    shards: list[pa.Table] = []
    runs: list[SparseInferenceResult] = []
    for begin in range(0, len(todo), shard_size):
        part = [chunks[firsts[j]] for j in todo[begin:begin + shard_size]]
        result = generator.generate(part, collection_stats=stats)
        idx, val = sparse_columns(result.vectors)
        shards.append(pa.table({"sparse_indices": idx, "sparse_values": val,
                                "sparse_source": pa.array(result.sources, type=pa.string())}))
        runs.append(result if not runs else result.model_copy(update={"vectors": []}))
        trim_heap()
    fresh = pa.concat_tables(shards) if shards else SPARSE_TABLE_SCHEMA.empty_table()
    position = np.empty(len(firsts), dtype=np.int64)
    position[todo] = np.arange(len(todo))
    cached_js = [j for j, i in enumerate(firsts) if view is not None and hashes[i] in view.rows]
    if cached_js and view is not None:
        cached = view.table.take(pa.array([view.rows[hashes[firsts[j]]] for j in cached_js], type=pa.int64()))
        cached = cached.select(["indices", "values", "source"]).rename_columns(SPARSE_TABLE_SCHEMA.names)
        combined = pa.concat_tables([fresh, cached.cast(SPARSE_TABLE_SCHEMA)])
        position[cached_js] = len(todo) + np.arange(len(cached_js))
    else:
        combined = fresh
    unique_table = combined.take(pa.array(position, type=pa.int64()))
    if cache is not None:
        keep = pc.not_equal(unique_table.column("sparse_source"), "metadata")
        cache.save_table(pa.table({"content_hash": pa.array([hashes[i] for i in firsts], type=pa.string())})
                         .filter(keep), unique_table.filter(keep))
    table = unique_table.take(pa.array(inverse, type=pa.int64()))
    sources = table.column("sparse_source").to_pylist()
    events = [e for r in runs for e in r.events]
    reasons = [r.fallback_reason for r in runs if r.fallback_reason]
    summary = SparseInferenceResult(
        vectors=runs[0].vectors[:8] if runs else [], sources=sources, sparse_model=generator.sparse_model,
        model_identity=generator.identity, fallback_used=any(r.fallback_used for r in runs),
        fallback_reason=reasons[0] if reasons else None, latency_ms=(time.perf_counter() - started) * 1000.0,
        devices=sorted({d for r in runs for d in r.devices}), batch_sizes=[b for r in runs for b in r.batch_sizes],
        oom_retries=sum(r.oom_retries for r in runs),
        soft_limit_exceedances=sum(r.soft_limit_exceedances for r in runs),
        peak_memory_bytes=max((r.peak_memory_bytes for r in runs), default=0), events=events,
        unique=len(firsts), encoded=len(todo), encode_ms=sum(r.encode_ms for r in runs))
    return table, summary
