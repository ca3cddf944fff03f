"""The chunks stage: a collection folder to ChunkRecord rows, every document accounted for."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from ..ingest.changes import folder_state
from ..ingest.chunking import Chunker, ChunkingConfig, TokenLimit
from ..ingest.collection import ChunkedCollection, chunk_collection
from ..ingest.discovery import fingerprint_collection
from ..ingest.documents import ReadLimits
from ..ingest.records import chunks_to_table
from ..manifest.envelopes import ChunksEnvelope, ChunksLineage
from ..manifest.models import ChunksStage
from ..storage.arrow import with_stage_metadata
from ..storage.hashing import sha256_hex


def chunks_section(result: ChunkedCollection, chunker: Chunker, folder: Path, latency_ms: float,
                   read_limits: ReadLimits | None = None) -> ChunksStage:
    tokens = [c.token_count for c in result.chunks]
    limit = min(limit.max_tokens for limit in chunker.limits)
    truncated = sum(1 for t in tokens if t > limit)
    return ChunksStage(
        count=len(result.chunks), documents=result.accounting, chunk_tokens=chunker.window,
        overlap_tokens=chunker.overlap, max_tokens=limit, tokens_total=int(sum(tokens)),
        tokens_max=int(max(tokens, default=0)), truncated_chunks=truncated,
        truncated_share=truncated / len(tokens) if tokens else 0.0, tokenizer=chunker.limits[0].name,
        inputs_sha256=fingerprint_collection(folder, read_limits), latency_ms=latency_ms)


def run_chunks_stage(folder: Path, collection: str, limits: list[TokenLimit], chunking: ChunkingConfig,
                     read_limits: ReadLimits, run_id: str) -> tuple[pa.Table, ChunksEnvelope]:
    """Chunk every document of ``folder`` with the tokenizers' limits (``run_id``: the run
    writing them, recorded in the lineage every later stage copies)."""
    started = time.perf_counter()
    state = folder_state(folder)  # before reading: a change while chunking shows as a later change
    chunker = Chunker(chunking, limits)
    result = chunk_collection(folder, collection, chunker, read_limits)
    latency_ms = (time.perf_counter() - started) * 1000.0
    stage = chunks_section(result, chunker, folder, latency_ms, read_limits)
    lineage = ChunksLineage(chunks_sha256=sha256_hex("\n".join(c.chunk_id for c in result.chunks)),
                            inputs_sha256=stage.inputs_sha256, folder_state=state, run_id=run_id)
    envelope = ChunksEnvelope(stage=stage, lineage=lineage)
    return with_stage_metadata(chunks_to_table(result.chunks), envelope), envelope
