"""The sparse stage: SPLADE vectors on the CPU first (a leased GPU when configured), the
metadata fallback for whatever the model cannot encode, and lexical vectors when asked.

The encoding runs inside a device lease; assembling the outputs (lexical vectors, the
probe query, the manifest sections) runs after it, so the GPU budget is not held for
CPU work.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel

from ..devices.events import BatchEvent
from ..devices.lease import Lease, place
from ..devices.vram import sparse_stage_bytes
from ..encode.cache import SparseCache
from ..encode.lexical import LexicalWeighter
from ..encode.models import SparseModelChoice
from ..encode.sparse import SparseInferenceResult, SparseVectorEncoder
from ..encode.sparse_collection import encode_collection
from ..ingest.records import table_to_chunks
from ..manifest.envelopes import ChunksLineage, SparseEnvelope, lineage_of
from ..manifest.models import ModelEntry, ToggleDecision
from ..storage.arrow import with_stage_metadata
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


class SparseStageRun:
    """One sparse stage over a collection's chunks: ``encode(lease)`` inside the lease,
    then ``finish()`` for the table and its envelope."""

    def __init__(self, chunks: pa.Table, choice: SparseModelChoice, settings: SparseSettings,
                 decision: ToggleDecision, on_event: Callable[[BatchEvent], None] | None = None) -> None:
        self.started = time.perf_counter()
        self.chunks = chunks
        self.records = table_to_chunks(chunks)
        self.choice = choice
        self.settings = settings
        self.decision = decision
        self.on_event = on_event
        self.lexical = LexicalWeighter(choice.tokenizer)
        # Fitted only if a fallback or the lexical vectors need it.
        self.stats = functools.cache(lambda: self.lexical.fit(self.records))
        self.vectors: pa.Table | None = None
        self.result: SparseInferenceResult | None = None

    @property
    def has_model(self) -> bool:
        return self.choice.model is not None

    def estimate_bytes(self) -> int:
        longest = max((c.token_count for c in self.records), default=0) + 2
        return sparse_stage_bytes(self.choice.model, self.settings.batch_size, longest, self.choice.vocab_size)

    def encode(self, lease: Lease) -> SparseInferenceResult:
        model, choice, settings = self.choice.model, self.choice, self.settings
        encoder = SparseVectorEncoder(
            sparse_model=choice.ref, model_for=(lambda d: place(model, d)) if model is not None else None,
            lexical=self.lexical, devices=lease.devices(), batch_size=settings.batch_size, identity=choice.identity,
            unavailable_reason=choice.unavailable_reason,
            make_batcher=lease.batcher_factory(settings.batch_size, token_budget=settings.token_budget),
            before_batch=lease.before_batch, on_event=self.on_event)
        cache = (SparseCache(settings.cache_dir, choice.identity.weights_sha256)
                 if choice.identity and settings.cache_dir else None)
        self.vectors, self.result = encode_collection(encoder, self.records, cache, self.stats)
        return self.result

    def finish(self) -> tuple[pa.Table, SparseEnvelope]:
        if self.vectors is None or self.result is None:
            raise RuntimeError("encode() must run before finish()")
        lexical_columns, lexical_stage = (lexical_output(self.lexical, self.records, self.stats())
                                          if self.settings.lexical else (None, None))
        probe = probe_vector(self.choice.model, self.lexical, self.settings.probe_query)
        identity = self.choice.identity
        stage, run = sparse_sections(
            records=self.records, vectors=self.vectors, result=self.result, sparse_model=self.choice.ref,
            model=ModelEntry.of("sparse", identity) if identity else None, batch_size=self.settings.batch_size,
            lexical=lexical_stage, probe=self.settings.probe_query, probe_vec=probe,
            latency_ms=(time.perf_counter() - self.started) * 1000.0)
        envelope = SparseEnvelope(lineage=lineage_of(self.chunks), enabled=True, decision=self.decision, stage=stage,
                                  sparse_run=run,
                                  peak_vram_bytes=self.result.peak_memory_bytes, events=self.result.events)
        table = sparse_table(self.chunks.column("chunk_id"), self.vectors, lexical_columns)
        return with_stage_metadata(table, envelope), envelope
