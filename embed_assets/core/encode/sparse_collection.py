"""The sparse encoder over a whole collection, in bounded shards, with the embedding cache.

Identical chunks are encoded once and cached model vectors (same weights, same content
hash) are reused. Each shard's vectors become Arrow arrays at once, so memory holds one
shard of Python objects, not the collection's. Metadata-derived vectors are never
cached: they depend on the whole collection's statistics.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..devices.memory import trim_heap
from ..ingest.records import ChunkRecord
from ..progress import progress
from .cache import SparseCache, SparseCacheView, unique_first
from .lexical import CollectionStats
from .longest_first import BatchStats
from .sparse import SparseInferenceResult, SparseVectorEncoder
from .vectors import SPARSE_VECTOR_SCHEMA, sparse_table

SHARD_SIZE = 2048


def encode_collection(encoder: SparseVectorEncoder, chunks: Sequence[ChunkRecord], cache: SparseCache | None,
                      stats: Callable[[], CollectionStats] | None = None, shard_size: int = SHARD_SIZE, *,
                      write_cache: bool = True) -> tuple[pa.Table, SparseInferenceResult]:
    """A table of ``sparse_indices``, ``sparse_values``, ``sparse_source`` in chunk order, and
    the run's figures (its ``vectors`` hold a sample of the first shard's). ``write_cache=False``
    only reads the cache (a shard of a sharded stage: its merge writes the cache)."""
    started = time.perf_counter()
    hashes = [c.content_hash for c in chunks]
    firsts, inverse = unique_first(hashes)
    view = cache.load() if cache is not None else None
    todo = [j for j, i in enumerate(firsts) if view is None or hashes[i] not in view.rows]
    stats = stats or functools.cache(lambda: encoder.lexical.fit(chunks))
    fresh, runs = _encode_shards(encoder, [chunks[firsts[j]] for j in todo], stats, shard_size)
    unique_table = _unique_rows(fresh, todo, [hashes[i] for i in firsts], view)
    if cache is not None and write_cache:
        keep = pc.not_equal(unique_table.column("sparse_source"), "metadata")
        cache.save_table(pa.table({"content_hash": pa.array([hashes[i] for i in firsts], type=pa.string())})
                         .filter(keep), unique_table.filter(keep))
    table = unique_table.take(pa.array(inverse, type=pa.int64()))
    return table, _summary(encoder, runs, table, len(firsts), len(todo), started)


def _encode_shards(encoder: SparseVectorEncoder, todo: list[ChunkRecord], stats: Callable[[], CollectionStats],
                   shard_size: int) -> tuple[pa.Table, list[SparseInferenceResult]]:
    shards: list[pa.Table] = []
    runs: list[SparseInferenceResult] = []
    with progress("sparse", len(todo)) as bar:
        for begin in range(0, len(todo), shard_size):
            result = encoder.generate(todo[begin:begin + shard_size], collection_stats=stats, progress=bar)
            shards.append(sparse_table(result.vectors, result.sources))
            runs.append(result if not runs else result.model_copy(update={"vectors": []}))
            trim_heap()
    return (pa.concat_tables(shards) if shards else SPARSE_VECTOR_SCHEMA.empty_table()), runs


def _unique_rows(fresh: pa.Table, todo: list[int], unique_hashes: list[str], view: SparseCacheView | None) -> pa.Table:
    """One row per distinct chunk text, in first-occurrence order: fresh rows, then cached ones."""
    position = np.empty(len(unique_hashes), dtype=np.int64)
    position[todo] = np.arange(len(todo))
    cached_js = [j for j, h in enumerate(unique_hashes) if view is not None and h in view.rows]
    combined = fresh
    if cached_js and view is not None:
        cached = view.table.take(pa.array([view.rows[unique_hashes[j]] for j in cached_js], type=pa.int64()))
        cached = cached.select(["indices", "values", "source"]).rename_columns(SPARSE_VECTOR_SCHEMA.names)
        combined = pa.concat_tables([fresh, cached.cast(SPARSE_VECTOR_SCHEMA)])
        position[cached_js] = len(todo) + np.arange(len(cached_js))
    return combined.take(pa.array(position, type=pa.int64()))


def _summary(encoder: SparseVectorEncoder, runs: list[SparseInferenceResult], table: pa.Table, unique: int,
             encoded: int, started: float) -> SparseInferenceResult:
    reasons = [r.fallback_reason for r in runs if r.fallback_reason]
    return SparseInferenceResult(
        vectors=runs[0].vectors[:8] if runs else [], sources=table.column("sparse_source").to_pylist(),
        sparse_model=encoder.sparse_model, model_identity=encoder.identity,
        fallback_used=any(r.fallback_used for r in runs), fallback_reason=reasons[0] if reasons else None,
        latency_ms=(time.perf_counter() - started) * 1000.0, devices=sorted({d for r in runs for d in r.devices}),
        events=[e for r in runs for e in r.events], unique=unique, encoded=encoded,
        **BatchStats.merge([r.stats for r in runs]).model_dump())
