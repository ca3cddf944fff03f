"""Exports for the index tests: rows shaped as the pipeline writes them (L2-normalized
dense vectors, SPLADE-like and lexical sparse vectors), and their manifest's sections;
targets on the real embedded engine and on the real client's local mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from embed_assets.core.index.target import IndexTarget
from embed_assets.core.storage.arrow import fixed_size_vectors

DIM = 48
VOCAB = 2000


def make_export(n_docs: int = 20, chunks_per_doc: int = 3, seed: int = 0, lexical: bool = True,
                dim: int = DIM) -> pa.Table:
    """An export table; row ``i`` depends only on (seed, i), so tables of different sizes
    from one seed share their first rows."""
    rows: dict[str, list[Any]] = {k: [] for k in ("chunk_id", "doc_id", "title", "source_path", "ordinal", "text",
                                                  "sparse_indices", "sparse_values", "lexical_indices",
                                                  "lexical_values")}
    dense = []
    for i in range(n_docs * chunks_per_doc):
        rng = np.random.default_rng([seed, i])
        doc, ordinal = divmod(i, chunks_per_doc)
        vector = rng.standard_normal(dim).astype(np.float32)
        dense.append(vector / np.linalg.norm(vector))
        terms = np.sort(rng.choice(VOCAB, size=12, replace=False))
        rows["chunk_id"].append(f"{seed}-chunk-{i:05d}")
        rows["doc_id"].append(f"doc-{doc:04d}")
        rows["title"].append(f"Document {doc}")
        rows["source_path"].append(f"docs/doc-{doc:04d}.md")
        rows["ordinal"].append(ordinal)
        rows["text"].append(f"text of chunk {i}")
        rows["sparse_indices"].append(terms.tolist())
        rows["sparse_values"].append(rng.random(12).astype(np.float32).tolist())
        rows["lexical_indices"].append(terms[:6].tolist())
        rows["lexical_values"].append((1 + 3 * rng.random(6)).astype(np.float32).tolist())
    columns: dict[str, Any] = {k: rows[k] for k in ("chunk_id", "doc_id", "title", "source_path", "ordinal", "text")}
    columns["dense"] = fixed_size_vectors(np.stack(dense))
    names = ["sparse_indices", "sparse_values"] + (["lexical_indices", "lexical_values"] if lexical else [])
    for name in names:
        columns[name] = pa.array(rows[name], type=pa.list_(pa.int32() if name.endswith("indices") else pa.float32()))
    return pa.table(columns)


def make_manifest(lexical: bool = True, dim: int = DIM, sparse: bool = True) -> dict[str, Any]:
    """The manifest sections the index reads (schema and encoders)."""
    stages: dict[str, Any] = {"dense": {"dim": dim, "aggregation": "weighted_concat", "models": [
        {"name": "all-MiniLM-L6-v2", "weight": 1.0, "weights_sha256": "0" * 64}]}}
    if sparse:
        stages["sparse"] = {"model": {"name": "splade-tiny", "weights_sha256": "1" * 64},
                            "lexical": {"count": 1} if lexical else None}
    return {"collection": "c", "stages": stages}


def replace_rows(table: pa.Table, rows: list[int], other: pa.Table) -> pa.Table:
    """``table`` with ``rows`` taken from ``other`` (same chunk ids, other vectors)."""
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    keep = pa.array(~mask)
    moved = other.take(pa.array(rows)).set_column(0, "chunk_id", table.column("chunk_id").take(pa.array(rows)))
    return pa.concat_tables([table.filter(keep), moved.select(table.column_names)])


@pytest.fixture(params=["edge", "local"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> IndexTarget:
    """An index target on the embedded engine, or on the client's local mode (a real
    qdrant-client storage folder, brute force, one process at a time)."""
    url = None if request.param == "edge" else f"file://{tmp_path / 'qdrant'}"
    return IndexTarget(root=tmp_path / "index", url=url)


@pytest.fixture
def edge_target(tmp_path: Path) -> IndexTarget:
    return IndexTarget(root=tmp_path / "index")
