"""The sparse stage on the real SPLADE-tiny model."""

import numpy as np
import pytest
import torch

from embed_assets.core.encode.lexical import LexicalWeighter
from embed_assets.core.encode.models import resolve_model
from embed_assets.core.encode.sparse import SparseVectorGenerator
from embed_assets.core.encode.vectors import rows_to_sparse
from embed_assets.core.ingest.records import ChunkMetadata, ChunkRecord
from embed_assets.resources import ModelManagerResource

TEXTS = [
    "Learned sparse retrieval expands passages with related vocabulary terms.",
    "GPU memory is leased per stage under a hard cap of twelve gigabytes.",
    "short",
    "A much longer passage " + "about chunking, tokenizers, batching and fallback vectors " * 12,
]


def _chunks() -> list[ChunkRecord]:
    return [ChunkRecord(chunk_id=f"c{i}", doc_id=f"d{i}", collection="c", ordinal=0, text=t,
                        token_count=len(t.split()), content_hash=str(i),
                        metadata=ChunkMetadata(source_path=f"d{i}.txt", title=f"Doc {i}"))
            for i, t in enumerate(TEXTS)]


@pytest.fixture(scope="module")
def splade():
    model, identity = ModelManagerResource(encoder_backend="torch").load_sparse()  # our torch pooling
    return model, identity


def test_max_then_activate_pooling_equals_the_stock_splade_pooling(splade) -> None:
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    ours, _ = splade
    location = resolve_model("splade-tiny").location
    stock = SparseEncoder(modules=[Transformer(location, transformer_task="fill-mask"), SpladePooling("max")],
                          device="cpu")
    a = ours.encode(TEXTS, convert_to_tensor=True, convert_to_sparse_tensor=False, batch_size=4)
    b = stock.encode(TEXTS, convert_to_tensor=True, convert_to_sparse_tensor=False, batch_size=4)
    assert float((a - b).abs().max()) <= 1e-5
    assert (a > 0).sum() == (b > 0).sum()


def test_generator_returns_vectors_in_input_order_with_sources(splade) -> None:
    model, identity = splade
    gen = SparseVectorGenerator(sparse_model="splade-tiny", model_for=lambda d: model,
                                lexical=LexicalWeighter(model.tokenizer), batch_size=2, identity=identity)
    result = gen.generate(_chunks())
    direct = rows_to_sparse(model.encode(TEXTS, convert_to_tensor=True, convert_to_sparse_tensor=True))
    assert not result.fallback_used and result.sources == ["model-cpu"] * 4
    for got, want in zip(result.vectors, direct):
        assert got.indices == want.indices
        assert np.allclose(got.values, want.values, atol=1e-5)
    assert result.source_counts == {"model-gpu": 0, "model-cpu": 4, "metadata": 0}


def test_unavailable_model_gives_flagged_metadata_vectors(splade) -> None:
    model, _ = splade
    gen = SparseVectorGenerator(sparse_model="missing", model_for=None, lexical=LexicalWeighter(model.tokenizer),
                                unavailable_reason="sparse model unavailable: no model at missing")
    result = gen.generate(_chunks())
    assert result.fallback_used and result.sources == ["metadata"] * 4
    assert "unavailable" in (result.fallback_reason or "")
    assert all(v.nnz > 0 for v in result.vectors)


def test_cpu_oom_at_the_floor_falls_back_for_exactly_the_remaining_chunks(splade) -> None:
    model, _ = splade
    calls = {"n": 0}

    def before(device: str, batch: int, tokens: int) -> None:
        calls["n"] += 1
        if calls["n"] > 1:  # the first batch succeeds, every later one is out of memory
            raise torch.OutOfMemoryError("out of memory")

    gen = SparseVectorGenerator(sparse_model="splade-tiny", model_for=lambda d: model,
                                lexical=LexicalWeighter(model.tokenizer), batch_size=4, before_batch=before)
    result = gen.generate(_chunks() * 2)  # 8 chunks: 4 by the model, 4 by metadata
    assert result.source_counts == {"model-gpu": 0, "model-cpu": 4, "metadata": 4}
    assert result.fallback_used and result.oom_retries >= 1
    assert [e.kind for e in result.events][-1] == "metadata_fallback"
