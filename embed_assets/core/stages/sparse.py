"""The sparse stage, in shards: each shard encodes its range of the distinct chunk texts with
SPLADE on the CPU first (a leased GPU when configured), the metadata fallback covering what
the model cannot encode (with the whole collection's statistics); the merge puts the shards
back in chunk order, writes the cache, and adds the lexical vectors, the probe query and the
manifest sections. One shard is the unsharded stage.

The encoding runs inside a device lease; the merge's CPU work runs after it, in its own step,
so the GPU budget is not held for CPU work.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from ..devices.events import BatchEvent
from ..devices.lease import Lease, place
from ..devices.vram import sparse_stage_bytes
from ..encode.cache import SparseCache, unique_first
from ..encode.lexical import LexicalWeighter
from ..encode.longest_first import BatchStats
from ..encode.models import ModelIdentity, SparseModelChoice
from ..encode.shards import ShardSpec, shard_rows
from ..encode.sparse import SparseInferenceResult, SparseVectorEncoder
from ..encode.sparse_collection import encode_collection
from ..encode.vectors import SPARSE_VECTOR_SCHEMA
from ..ingest.records import table_to_chunks
from ..manifest.envelopes import ChunksLineage, SparseEnvelope, SparseShardEnvelope, lineage_of, read_envelope
from ..manifest.models import ModelEntry, ToggleDecision
from ..storage.arrow import with_stage_metadata
from .shards import merged_latency_ms, ordered_shards, same_encoders
from .sparse_sections import SPARSE_SCHEMA, lexical_output, probe_vector, sparse_sections, sparse_table


class SparseSettings(BaseModel):
    batch_size: int
    token_budget: int | None
    lexical: bool = False
    probe_query: str
    cache_dir: Path | None = None


def disabled_sparse_stage(decision: ToggleDecision, lineage: ChunksLineage) -> tuple[pa.Table, SparseEnvelope]:
    """Sparse is off: no rows, and the decision that turned it off."""
    envelope = SparseEnvelope(lineage=lineage, enabled=False, decision=decision)
    return with_stage_metadata(SPARSE_SCHEMA.empty_table(), envelope), envelope


class SparseShardRun:
    """One shard of the sparse stage: ``encode(lease)`` inside the lease gives the shard's table
    (content hash and vector per distinct chunk text) and its envelope."""

    def __init__(self, chunks: pa.Table, shard: ShardSpec, choice: SparseModelChoice, settings: SparseSettings,
                 on_event: Callable[[BatchEvent], None] | None = None) -> None:
        self.started = time.perf_counter()
        self.chunks, self.shard, self.choice, self.settings, self.on_event = chunks, shard, choice, settings, on_event
        rows = pa.array(shard_rows(chunks.column("content_hash").to_pylist(), shard), type=pa.int64())
        self.records = table_to_chunks(chunks.take(rows))
        self.lexical = LexicalWeighter(choice.tokenizer)
        # The fallback weighs terms with the whole collection's statistics, as an unsharded run does;
        # fitted only if a fallback needs it.
        self.stats = functools.cache(lambda: self.lexical.fit(table_to_chunks(chunks)))

    @property
    def has_model(self) -> bool:
        return self.choice.model is not None

    def estimate_bytes(self) -> int:
        longest = max((c.token_count for c in self.records), default=0) + 2
        return sparse_stage_bytes(self.choice.model, self.settings.batch_size, longest, self.choice.vocab_size)

    def encode(self, lease: Lease) -> tuple[pa.Table, SparseShardEnvelope]:
        model, choice, settings = self.choice.model, self.choice, self.settings
        encoder = SparseVectorEncoder(
            sparse_model=choice.ref, model_for=(lambda d: place(model, d)) if model is not None else None,
            lexical=self.lexical, devices=lease.devices(), batch_size=settings.batch_size, identity=choice.identity,
            unavailable_reason=choice.unavailable_reason,
            make_batcher=lease.batcher_factory(settings.batch_size, token_budget=settings.token_budget),
            before_batch=lease.before_batch, on_event=self.on_event)
        cache = (SparseCache(settings.cache_dir, choice.identity.weights_sha256, choice.identity.cache_tag)
                 if choice.identity and settings.cache_dir else None)
        vectors, result = encode_collection(encoder, self.records, cache, self.stats, write_cache=False)
        envelope = SparseShardEnvelope(lineage=lineage_of(self.chunks), shard=self.shard,
                                       result=result.model_copy(update={"vectors": [], "sources": []}),
                                       latency_ms=(time.perf_counter() - self.started) * 1000.0)
        hashes = pa.array([c.content_hash for c in self.records], type=pa.string())
        table = pa.table({"content_hash": hashes, **{n: vectors.column(n) for n in SPARSE_VECTOR_SCHEMA.names}})
        return with_stage_metadata(table, envelope), envelope


def merged_result(results: Sequence[SparseInferenceResult], sources: list[str], unique: int) -> SparseInferenceResult:
    """The shards' figures as one run's."""
    reasons = [r.fallback_reason for r in results if r.fallback_reason]
    first = results[0]
    return SparseInferenceResult(
        vectors=[], sources=sources, sparse_model=first.sparse_model, model_identity=first.model_identity,
        fallback_used=any(r.fallback_used for r in results), fallback_reason=reasons[0] if reasons else None,
        latency_ms=max(r.latency_ms for r in results), devices=sorted({d for r in results for d in r.devices}),
        events=[e for r in results for e in r.events], unique=unique, encoded=sum(r.encoded for r in results),
        **BatchStats.merge([r.stats for r in results]).model_dump())


def _encoder_tag(identity: ModelIdentity | None) -> str:
    return f"{identity.weights_sha256[:16]} {identity.cache_tag or 'torch'}" if identity else "no model"


def _write_cache(cache_dir: Path | None, result: SparseInferenceResult, hashes: list[str], unique: pa.Table) -> None:
    """Each model's cache file holds exactly the current chunks' model vectors (never the
    metadata-derived ones: they depend on the whole collection)."""
    if cache_dir is None or result.model_identity is None:
        return
    keep = pc.not_equal(unique.column("sparse_source"), "metadata")
    identity = result.model_identity
    SparseCache(cache_dir, identity.weights_sha256, identity.cache_tag).save_table(
        pa.table({"content_hash": pa.array(hashes, type=pa.string())}).filter(keep), unique.filter(keep))


def merge_sparse_shards(chunks: pa.Table, shard_tables: Sequence[pa.Table], choice: SparseModelChoice,
                        settings: SparseSettings, decision: ToggleDecision, *,
                        started: float) -> tuple[pa.Table, SparseEnvelope]:
    """The shards back in chunk order (identical chunks given their text's vector), the cache
    rewritten, then the lexical vectors, the probe query and the manifest sections."""
    lineage = lineage_of(chunks)
    hashes = chunks.column("content_hash").to_pylist()
    firsts, inverse = unique_first(hashes)
    unique_hashes = [hashes[i] for i in firsts]
    parts = [(read_envelope(t.schema, SparseShardEnvelope), t) for t in shard_tables]
    ordered = ordered_shards(parts, lineage, unique_hashes, "sparse_vectors")
    same_encoders("sparse_vectors", [(e.shard.index, _encoder_tag(e.result.model_identity)) for e, _ in ordered])
    unique = pa.concat_tables([t.select(SPARSE_VECTOR_SCHEMA.names) for _, t in ordered]).cast(SPARSE_VECTOR_SCHEMA)
    vectors = unique.take(pa.array(inverse, type=pa.int64()))
    result = merged_result([e.result for e, _ in ordered], vectors.column("sparse_source").to_pylist(),
                           len(firsts))
    _write_cache(settings.cache_dir, result, unique_hashes, unique)
    records = table_to_chunks(chunks)
    lexical = LexicalWeighter(choice.tokenizer)
    lexical_columns, lexical_stage = (lexical_output(lexical, records, lexical.fit(records))
                                      if settings.lexical else (None, None))
    identity = result.model_identity
    stage, run = sparse_sections(
        records=records, vectors=vectors, result=result, sparse_model=choice.ref,
        model=ModelEntry.of("sparse", identity) if identity else None, batch_size=settings.batch_size,
        lexical=lexical_stage, probe=settings.probe_query, probe_vec=probe_vector(choice.model, lexical,
                                                                                  settings.probe_query),
        latency_ms=merged_latency_ms([e.latency_ms for e, _ in ordered], started))
    stage.shards = len(ordered)
    envelope = SparseEnvelope(lineage=lineage, enabled=True, decision=decision, stage=stage, sparse_run=run,
                              peak_vram_bytes=result.peak_memory_bytes, events=result.events)
    return with_stage_metadata(sparse_table(chunks.column("chunk_id"), vectors, lexical_columns), envelope), envelope
