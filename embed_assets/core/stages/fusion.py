"""The fusion stage: hybrid records per chunk — dense vector, sparse vector and the
vector-level fusion parameters (dense-only records when sparse is off)."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from ..manifest.envelopes import DenseEnvelope, FusionEnvelope, SparseEnvelope, lineage_of, read_envelope
from ..manifest.models import FusionStage
from ..retrieval.fusion import RRF_K, fusion_scales
from ..storage.arrow import list_l2_norms, with_stage_metadata

CHUNK_COLUMNS = ("chunk_id", "doc_id", "collection", "ordinal", "source_path", "title", "text", "token_count")
SPARSE_COLUMNS = ("sparse_indices", "sparse_values", "sparse_source", "sparse_norm")
LEXICAL_COLUMNS = ("lexical_indices", "lexical_values")


class StageInputMismatch(ValueError):
    """An upstream table does not hold the same chunks as the chunks table."""


def _check_rows(chunks: pa.Table, dense: pa.Table, sparse: pa.Table, sparse_enabled: bool) -> None:
    lineage = lineage_of(chunks)
    for name, table, kind in (("dense_embeddings", dense, DenseEnvelope), ("sparse_vectors", sparse, SparseEnvelope)):
        if read_envelope(table.schema, kind).lineage != lineage:
            raise StageInputMismatch(f"{name} was computed from other chunks than the current ones; "
                                     f"re-materialize {name}")
    ids = chunks.column("chunk_id")
    if not dense.column("chunk_id").equals(ids):
        raise StageInputMismatch("dense_embeddings rows do not match chunks; re-materialize dense_embeddings")
    if sparse_enabled and not sparse.column("chunk_id").equals(ids):
        raise StageInputMismatch("sparse_vectors rows do not match chunks; re-materialize sparse_vectors")


def _sparse_columns(sparse: pa.Table) -> dict[str, Any]:
    values = sparse.column("sparse_values")
    columns: dict[str, Any] = {
        "sparse_indices": sparse.column("sparse_indices"), "sparse_values": values,
        "sparse_source": sparse.column("sparse_source"),
        "sparse_norm": pa.array(list_l2_norms(values), type=pa.float32()),
    }
    columns.update({name: sparse.column(name) for name in LEXICAL_COLUMNS if name in sparse.column_names})
    return columns


def run_fusion_stage(chunks: pa.Table, dense: pa.Table, sparse: pa.Table, *, sparse_enabled: bool,
                     alpha: float) -> tuple[pa.Table, FusionEnvelope]:
    started = time.perf_counter()
    _check_rows(chunks, dense, sparse, sparse_enabled)
    alpha = alpha if sparse_enabled else 1.0
    d_scale, s_scale = fusion_scales(alpha)
    n = chunks.num_rows
    mode = "hybrid" if sparse_enabled else "dense_only"
    columns: dict[str, Any] = {name: chunks.column(name) for name in CHUNK_COLUMNS}
    columns["dense"] = dense.column("dense")
    if sparse_enabled:
        columns.update(_sparse_columns(sparse))
    columns.update({
        "fusion_mode": pa.array([mode] * n, type=pa.string()),
        "fusion_alpha": pa.array([alpha] * n, type=pa.float32()),
        "dense_scale": pa.array([d_scale] * n, type=pa.float32()),
        "sparse_scale": pa.array([s_scale] * n, type=pa.float32()),
    })
    stage = FusionStage(count=n, mode=mode, alpha=alpha, dense_scale=d_scale, sparse_scale=s_scale, rrf_k=RRF_K,
                        latency_ms=(time.perf_counter() - started) * 1000.0)
    envelope = FusionEnvelope(lineage=lineage_of(chunks), stage=stage, sparse_enabled=sparse_enabled)
    return with_stage_metadata(pa.table(columns), envelope), envelope
