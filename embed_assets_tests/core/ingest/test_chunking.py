import re
from pathlib import Path

import pytest

from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.ingest.chunking import Chunker, ChunkingConfig, TokenLimit, count_tokens
from embed_assets.core.ingest.collection import chunk_collection
from embed_assets.core.ingest.documents import Document


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(resolve_model("all-MiniLM-L6-v2"))


LONG = " ".join(f"Sentence number {i} talks about retrieval, vectors and chunk{i}boundaries." for i in range(120))


def _doc(text: str, doc_id: str = "a.md", kind: str = "markdown") -> Document:
    return Document(doc_id=doc_id, source_path=doc_id, kind=kind, text=text, title="A")


def test_no_chunk_exceeds_the_smallest_limit_and_no_word_is_lost(tokenizer) -> None:
    limits = [TokenLimit("big", tokenizer, 256), TokenLimit("small", tokenizer, 40)]
    chunker = Chunker(ChunkingConfig(chunk_tokens=200, overlap_tokens=8), limits)
    chunks = chunker.chunk(_doc(LONG), "c")
    assert chunker.window == 40
    assert max(count_tokens(tokenizer, [c.text for c in chunks])) <= 40
    covered = " ".join(c.text for c in chunks)
    for word in set(re.findall(r"\w+", LONG)):
        assert word in covered
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.text == LONG[c.metadata.char_start:c.metadata.char_end] for c in chunks)


def test_overlap_is_shared_between_neighbours(tokenizer) -> None:
    chunker = Chunker(ChunkingConfig(chunk_tokens=32, overlap_tokens=8), [TokenLimit("m", tokenizer, 254)])
    chunks = chunker.chunk(_doc(LONG), "c")
    assert len(chunks) > 3
    for a, b in zip(chunks, chunks[1:]):
        assert b.metadata.char_start < a.metadata.char_end


def test_chunk_ids_are_stable_and_local(tokenizer) -> None:
    chunker = Chunker(ChunkingConfig(chunk_tokens=32, overlap_tokens=4), [TokenLimit("m", tokenizer, 254)])
    first = chunker.chunk(_doc(LONG), "c")
    again = chunker.chunk(_doc(LONG), "c")
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    other_doc = chunker.chunk(_doc("Something else entirely.", doc_id="b.md"), "c")
    assert other_doc[0].chunk_id not in {c.chunk_id for c in first}
    edited = chunker.chunk(_doc(LONG.replace("Sentence number 110", "Phrase number 110")), "c")
    assert edited[0].chunk_id == first[0].chunk_id
    changed = [c for c in edited if "Phrase number 110" in c.text]
    assert changed and all(c.chunk_id not in {f.chunk_id for f in first} for c in changed)


def test_markdown_headings_are_recorded(tokenizer) -> None:
    text = "# Guide\n\nIntro text.\n\n## Setup\n\n" + "Install the thing. " * 60 + "\n\n## Use\n\nRun it."
    chunker = Chunker(ChunkingConfig(chunk_tokens=48, overlap_tokens=0), [TokenLimit("m", tokenizer, 254)])
    chunks = chunker.chunk(_doc(text), "c")
    assert chunks[0].metadata.headings == ["Guide"]
    assert ["Guide", "Setup"] in [c.metadata.headings for c in chunks]


def test_overlap_must_be_below_size() -> None:
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkingConfig(chunk_tokens=16, overlap_tokens=16)


def test_collection_accounting_adds_up(tokenizer, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Hello there. " * 50)
    (tmp_path / "b.txt").write_text("")
    (tmp_path / "c.bin").write_bytes(b"\x00\x00")
    chunker = Chunker(ChunkingConfig(chunk_tokens=16, overlap_tokens=2), [TokenLimit("m", tokenizer, 254)])
    result = chunk_collection(tmp_path, "c", chunker)
    acc = result.accounting
    assert (acc.seen, acc.embedded, acc.skipped) == (3, 1, 2)
    assert acc.skipped_by_reason == {"empty": 1, "unsupported_type": 1}
    assert {c.doc_id for c in result.chunks} == {"a.txt"}
