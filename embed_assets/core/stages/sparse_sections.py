"""The sparse stage's outputs, assembled: its Arrow table (SPLADE vectors, and lexical
vectors when asked), its manifest section and the ``sparse_run`` section."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..encode.lexical import CollectionStats, LexicalWeighter
from ..encode.sparse import SparseInferenceResult
from ..encode.vectors import SparseVector, rows_to_sparse, sparse_from_columns
from ..ingest.records import ChunkRecord
from ..manifest.models import (
    SAMPLE_SIZE,
    SAMPLE_TERMS,
    BatchEventCounts,
    DocumentSparseSample,
    LexicalStage,
    ModelEntry,
    ProbeQuery,
    SparseInferenceRun,
    SparseStage,
)
from ..storage.exports import FUSED_PARQUET
from ..storage.hashing import sha256_hex
from ..telemetry import child_span

SPARSE_SCHEMA = pa.schema([
    pa.field("chunk_id", pa.string(), nullable=False),
    pa.field("sparse_indices", pa.list_(pa.int32())),
    pa.field("sparse_values", pa.list_(pa.float32())),
    pa.field("sparse_source", pa.string()),
])
LEXICAL_FIELDS = [pa.field("lexical_indices", pa.list_(pa.int32())), pa.field("lexical_values", pa.list_(pa.float32()))]
QUERY_TERMS = 128


def lexical_output(lexical: LexicalWeighter, records: Sequence[ChunkRecord],
                   stats: CollectionStats) -> tuple[tuple[pa.Array, pa.Array], LexicalStage]:
    started = time.perf_counter()
    with child_span("lexical", chunks=len(records)):
        columns = lexical.columns(records, stats)
    nnz = pc.list_value_length(columns[0]).to_numpy(zero_copy_only=False)
    p = lexical.params
    return columns, LexicalStage(count=len(records), mean_nnz=float(np.mean(nnz)) if len(nnz) else 0.0, k1=p.k1,
                                 b=p.b, title_boost=p.title_boost, heading_boost=p.heading_boost,
                                 latency_ms=(time.perf_counter() - started) * 1000.0)


def probe_vector(model: Any | None, lexical: LexicalWeighter, probe: str) -> SparseVector:
    """The probe query's vector: SPLADE's query encoding, or its lexical term set."""
    if model is not None:
        return rows_to_sparse(model.encode_query([probe], convert_to_tensor=True, convert_to_sparse_tensor=True))[0]
    ids = sorted(set(lexical.token_ids([probe])[0]))
    return SparseVector(indices=ids, values=[1.0] * len(ids))


def _terms(vector: SparseVector, k: int) -> dict[str, float]:
    return {str(i): round(float(v), 6) for i, v in vector.top_terms(k)}


def sparse_sections(*, records: Sequence[ChunkRecord], vectors: pa.Table, result: SparseInferenceResult,
                    sparse_model: str, model: ModelEntry | None, batch_size: int, lexical: LexicalStage | None,
                    probe: str, probe_vec: SparseVector, latency_ms: float) -> tuple[SparseStage, SparseInferenceRun]:
    """The manifest's ``stages.sparse`` and ``sparse_run`` sections (no text: ids, hashes, counts)."""
    nnz = pc.list_value_length(vectors.column("sparse_indices")).to_numpy(zero_copy_only=False)
    stage = SparseStage(
        count=len(records), sparse_model=sparse_model, model=model, devices=result.devices, batch_size=batch_size,
        min_batch_size=min(result.batch_sizes, default=batch_size), oom_retries=result.oom_retries,
        batch_events=BatchEventCounts.of([e.kind for e in result.events]), unique_chunks=result.unique,
        encoded=result.encoded, encode_ms=result.encode_ms, fallback_used=result.fallback_used,
        fallback_reason=result.fallback_reason, source_counts=result.source_counts,
        coverage=float(np.mean(nnz > 0)) if len(nnz) else 1.0, mean_nnz=float(np.mean(nnz)) if len(nnz) else 0.0,
        lexical=lexical, latency_ms=latency_ms)
    head = vectors.slice(0, SAMPLE_SIZE)
    sample = sparse_from_columns(head.column("sparse_indices"), head.column("sparse_values"))
    run = SparseInferenceRun(
        run_id=str(uuid.uuid4()), sparse_model=sparse_model, latency_ms=result.latency_ms,
        fallback_used=result.fallback_used, query=ProbeQuery(sha256=sha256_hex(probe), length=len(probe)),
        query_sparse_vector=_terms(probe_vec, QUERY_TERMS),
        document_sparse_vectors=[
            DocumentSparseSample(chunk_id=c.chunk_id, source=s, nnz=v.nnz, terms=_terms(v, SAMPLE_TERMS))
            for c, v, s in zip(records, sample, result.sources)],
        document_sparse_vectors_total=vectors.num_rows, document_sparse_vectors_export=FUSED_PARQUET)
    return stage, run


def sparse_table(chunk_ids: pa.ChunkedArray, vectors: pa.Table,
                 lexical_columns: tuple[pa.Array, pa.Array] | None) -> pa.Table:
    columns: dict[str, Any] = {"chunk_id": chunk_ids, **{n: vectors.column(n) for n in SPARSE_SCHEMA.names[1:]}}
    schema = SPARSE_SCHEMA
    if lexical_columns is not None:
        columns["lexical_indices"], columns["lexical_values"] = lexical_columns
        schema = pa.schema([*SPARSE_SCHEMA, *LEXICAL_FIELDS])
    return pa.table(columns, schema=schema)
