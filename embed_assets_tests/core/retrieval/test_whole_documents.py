"""Whole documents rebuilt from the real chunker's overlapping chunks, and their BM25 vectors."""

import numpy as np
import pyarrow as pa
import pytest

from embed_assets.core.encode.lexical import LexicalWeighter
from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.ingest.chunking import Chunker, ChunkingConfig, TokenLimit
from embed_assets.core.ingest.documents import Document
from embed_assets.core.ingest.records import ChunkMetadata, ChunkRecord
from embed_assets.core.retrieval.documents import document_texts, join_overlapping
from embed_assets.core.retrieval.index import ExportIndex

TEXTS = {
    "long": " ".join(f"Paragraph {i} explains how the heap queue keeps item{i} ordered." for i in range(60)),
    "repeats": " ".join(["the same words again and again"] * 40),
    "short": "A short document with a single chunk.",
}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("splade-tiny"))


def _chunks(tokenizer, overlap: int, docs: tuple[str, ...] = tuple(TEXTS)) -> list[ChunkRecord]:
    chunker = Chunker(ChunkingConfig(chunk_tokens=24, overlap_tokens=overlap), [TokenLimit("m", tokenizer, 500)])
    return [c for doc_id in docs for c in chunker.chunk(
        Document(doc_id=doc_id, source_path=doc_id, kind="text", text=TEXTS[doc_id], title="T"), "c")]


@pytest.mark.parametrize("overlap", [0, 4, 8])
def test_documents_come_back_from_their_chunks(tokenizer, overlap: int) -> None:
    chunks = _chunks(tokenizer, overlap)
    assert len(chunks) > 10
    shuffled = chunks[::-1]  # the export's row order does not matter; ordinals do
    texts = document_texts([c.doc_id for c in shuffled], [c.ordinal for c in shuffled], [c.text for c in shuffled])
    assert texts["short"] == TEXTS["short"]
    if overlap:
        assert texts["long"] == TEXTS["long"]
    else:  # adjacent windows: the whitespace between them comes back as one space
        assert texts["long"].split() == TEXTS["long"].split()
    # Text that repeats itself may look like a longer overlap: never more words than the document has.
    assert set(texts["repeats"].split()) == set(TEXTS["repeats"].split())
    assert len(texts["repeats"].split()) <= len(TEXTS["repeats"].split())


def test_join_overlapping_keeps_the_overlap_once() -> None:
    assert join_overlapping("alpha beta gamma delta", "gamma delta epsilon") == "alpha beta gamma delta epsilon"
    assert join_overlapping("alpha beta", "gamma") == "alpha beta gamma"
    assert join_overlapping("", "gamma") == "gamma"


def test_the_index_scores_whole_documents_with_the_lexical_weighter(tokenizer) -> None:
    chunks = _chunks(tokenizer, 8, ("long", "short"))  # rebuilt exactly (see above)
    table = pa.table({"chunk_id": [c.chunk_id for c in chunks], "doc_id": [c.doc_id for c in chunks],
                      "ordinal": [c.ordinal for c in chunks], "text": [c.text for c in chunks],
                      "title": ["T"] * len(chunks),
                      "dense": pa.array([[1.0, 0.0]] * len(chunks), pa.list_(pa.float32(), 2))})
    index = ExportIndex.from_table(table)
    assert index.has_text and list(index.docs) == ["long", "short"]
    matrix = index.document_lexical(tokenizer)
    assert index.document_lexical(tokenizer) is matrix  # built once
    whole = [ChunkRecord(chunk_id=d, doc_id=d, collection="c", ordinal=0, text=TEXTS[d], token_count=0,
                         content_hash="h", metadata=ChunkMetadata(source_path=d, title="T")) for d in index.docs]
    weighter = LexicalWeighter(tokenizer)
    expected = weighter.vectors(whole, weighter.fit(whole))
    for row, vector in enumerate(expected):
        got = matrix.getrow(row)
        assert list(got.indices) == vector.indices
        assert np.asarray(got.data) == pytest.approx(vector.values, rel=1e-6)
    without_text = ExportIndex.from_table(table.drop(["text"]))
    assert not without_text.has_text
    with pytest.raises(ValueError):
        without_text.document_lexical(tokenizer)
