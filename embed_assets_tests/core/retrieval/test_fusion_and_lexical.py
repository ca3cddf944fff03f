import math

import numpy as np
import pytest

from embed_assets.core.encode.ensemble import aggregate, l2_normalize
from embed_assets.core.encode.lexical import LexicalWeighter
from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.encode.vectors import SparseVector
from embed_assets.core.ingest.records import ChunkMetadata, ChunkRecord
from embed_assets.core.retrieval.fusion import convex_combination, hybrid_score, reciprocal_rank_fusion, sparse_dot


def test_weighted_concat_dot_is_weighted_cosine_sum() -> None:
    rng = np.random.default_rng(0)
    a1, b1 = l2_normalize(rng.normal(size=(2, 8)))
    a2, b2 = l2_normalize(rng.normal(size=(2, 5)))
    w = [1.0, 0.5]
    ens = aggregate([np.stack([a1, b1]), np.stack([a2, b2])], w)
    expected = (w[0] * a1 @ b1 + w[1] * a2 @ b2) / sum(w)
    assert ens.shape == (2, 13)
    assert float(ens[0] @ ens[1]) == pytest.approx(float(expected), abs=1e-6)
    assert np.allclose(np.linalg.norm(ens, axis=1), 1.0, atol=1e-6)


def test_hybrid_dot_is_alpha_mix_of_dense_and_normalized_sparse() -> None:
    qd, dd = l2_normalize(np.array([[1.0, 0.0], [0.6, 0.8]]))
    qs = SparseVector(indices=[1, 5], values=[3.0, 4.0])
    ds = SparseVector(indices=[5, 9], values=[2.0, 0.0])
    cos_sparse = sparse_dot(qs, ds) / (5.0 * 2.0)
    for alpha in (0.0, 0.3, 1.0):
        assert hybrid_score(qd, qs, dd, ds, alpha) == pytest.approx(alpha * 0.6 + (1 - alpha) * cos_sparse)


def test_rrf_and_convex_are_deterministic() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert [d for d, _ in fused[:2]] == ["a", "b"]  # tie broken by id
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    conv = convex_combination([{"a": 2.0, "b": 1.0}, {"b": 10.0, "c": 0.0}], [0.5, 0.5])
    assert conv == [("b", 0.5), ("a", 0.5), ("c", 0.0)] or conv[0][0] in {"a", "b"}
    assert dict(conv)["c"] == 0.0 and dict(conv)["a"] == pytest.approx(0.5)


def _chunk(text: str, title: str = "T") -> ChunkRecord:
    return ChunkRecord(chunk_id=text[:8], doc_id="d", collection="c", ordinal=0, text=text, token_count=0,
                       content_hash="h", metadata=ChunkMetadata(source_path="d", title=title))


def test_lexical_vectors_share_the_token_space_and_weigh_rare_terms_higher() -> None:
    tok = load_tokenizer(resolve_model("splade-tiny"))
    chunks = [_chunk("the cat sat on the mat"), _chunk("the dog chased the cat"), _chunk("the zebra grazed")]
    weighter = LexicalWeighter(tok)
    vecs = weighter.vectors(chunks, weighter.fit(chunks))
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("the", "zebra", "cat")}
    weights = dict(zip(vecs[2].indices, vecs[2].values))
    assert weights[ids["zebra"]] > weights[ids["the"]] > 0
    assert vecs[2].indices == sorted(vecs[2].indices)
    assert all(i < tok.vocab_size for v in vecs for i in v.indices)
    title_boosted = weighter.vectors([_chunk("a cat", title="cat")], weighter.fit(chunks))[0]
    plain = weighter.vectors([_chunk("a cat", title="")], weighter.fit(chunks))[0]
    assert dict(zip(title_boosted.indices, title_boosted.values))[ids["cat"]] > \
        dict(zip(plain.indices, plain.values))[ids["cat"]]
    assert not math.isnan(sum(v for vec in vecs for v in vec.values))
