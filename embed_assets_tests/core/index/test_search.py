"""Documents ranked through the index equal the exact export ranking (a document scores as
its best chunk), on both engines; hybrid search fuses as the export search does."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse as sp

from embed_assets.core.index.search import doc_rankings, engine_fusion, fused, per_vector_docs, scores_of, single
from embed_assets.core.index.store import VectorQuery
from embed_assets.core.index.sync import sync_index
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.retrieval.index import ExportIndex
from embed_assets.core.retrieval.metrics import rank

from .conftest import VOCAB, make_export, make_manifest

N_DOCS, PER_DOC = 40, 3


def _queries(index: ExportIndex, n: int = 6) -> dict[str, tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]]:
    """Noisy copies of some chunks' vectors, as dense and CSR query matrices."""
    rng = np.random.default_rng(3)
    rows = rng.choice(len(index.chunk_ids), size=n, replace=False)
    dense = index.dense[rows] + rng.normal(0, 0.3, (n, index.dense.shape[1])).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    return {"dense": dense, "splade": index.splade[rows], "lexical": index.lexical[rows]}  # type: ignore[index,dict-item]


def _vector_queries(name: str, matrix: object) -> list[VectorQuery]:
    if name == "dense":
        return [VectorQuery(name=name, dense=tuple(map(float, row))) for row in np.asarray(matrix)]
    csr = sp.csr_matrix(matrix)
    from embed_assets.core.encode.vectors import SparseVector

    return [VectorQuery(name=name, sparse=SparseVector(indices=csr[i].indices.tolist(),
                                                       values=csr[i].data.astype(np.float32).tolist()))
            for i in range(csr.shape[0])]


@pytest.mark.parametrize("depth", [5, 100])
def test_the_index_ranks_documents_as_the_exact_search(target: IndexTarget, depth: int) -> None:
    table = make_export(N_DOCS, PER_DOC)
    sync_index(target, "c", table, make_manifest(), "e1")
    exact = ExportIndex.from_table(table, vocab_size=VOCAB)
    queries = _queries(exact)
    with target.reader("c") as reader:
        encoded = [{m: _vector_queries(m, queries[m])[i] for m in queries} for i in range(6)]
        through_index = per_vector_docs(reader.store, encoded, list(queries), depth=depth, exact=True)
    for name, matrix in queries.items():
        # The exact search pads with documents of score 0 (no shared term); an engine returns
        # only documents that match at all.
        want = [{d: v for d, v in w.items() if name == "dense" or v > 0}
                for w in exact.doc_scores(exact.chunk_scores(name, matrix), depth=depth)]
        got = scores_of(through_index[name])
        assert [rank(g) for g in got] == [rank(w) for w in want], name
        assert all(np.allclose([g[d] for d in w], list(w.values()), atol=1e-4) for g, w in zip(got, want))
    assert all(len(r) == min(depth, N_DOCS) for r in through_index["dense"])


def test_engine_fusion_ranks_documents_by_their_best_fused_chunk(edge_target: IndexTarget) -> None:
    table = make_export(N_DOCS, PER_DOC)
    sync_index(edge_target, "c", table, make_manifest(), "e1")
    queries = _queries(ExportIndex.from_table(table, vocab_size=VOCAB), n=1)
    vqs = {m: _vector_queries(m, q)[0] for m, q in queries.items()}
    members = list(vqs)
    with edge_target.reader("c") as reader:
        engine = engine_fusion("rrf", members)
        docs = doc_rankings(reader.store, lambda _i, lim: fused(vqs, members, engine, lim, True), 1, depth=10)[0]
        chunks = reader.store.query(fused(vqs, members, engine, 100, True))  # same prefetch depth
        single_dense = doc_rankings(reader.store, lambda _i, lim: single(vqs["dense"], lim, True), 1, depth=10)[0]
    firsts: dict[str, float] = {}
    for hit in chunks:
        firsts.setdefault(hit.doc_id, hit.score)
    # The same documents' best fused chunks, best first (equal RRF scores may come in any order).
    assert [docs[d].score for d in docs] == pytest.approx(list(firsts.values())[:10])
    assert all(firsts[d] == pytest.approx(hit.score) for d, hit in docs.items()) and engine.k == 60
    assert len(single_dense) == 10


def test_weighted_rrf_takes_the_convex_weights_by_default() -> None:
    assert engine_fusion("weighted_rrf", ["dense", "splade", "lexical"]).weights == (0.5, 0.25, 0.25)
    assert engine_fusion("dbsf", ["dense"]).method == "dbsf"
    with pytest.raises(ValueError, match="not an engine fusion"):
        engine_fusion("convex", ["dense"])
