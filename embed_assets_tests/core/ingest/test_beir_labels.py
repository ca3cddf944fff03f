"""A collection's labels (queries.jsonl, qrels/test.tsv) are read only from inside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embed_assets.core.ingest.beir import has_labels, install_beir, read_qrels, read_queries
from embed_assets.core.ingest.discovery import iter_collection
from embed_assets_tests.reliability.child import deadline

QUERIES = '{"_id": "q1", "text": "what is hybrid retrieval"}\n'
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\n"


def _labelled(folder: Path, queries: str = QUERIES) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "queries.jsonl").write_text(queries)
    (folder / "qrels" / "test.tsv").write_text(QRELS)
    return folder


def test_labels_inside_the_collection_are_read(tmp_path: Path) -> None:
    folder = _labelled(tmp_path / "c")
    assert has_labels(folder)
    assert read_queries(folder) == {"q1": "what is hybrid retrieval"}
    assert read_qrels(folder) == {"q1": {"d1": 1}}


def test_labels_linked_from_outside_are_refused(tmp_path: Path) -> None:
    outside = _labelled(tmp_path / "outside", '{"_id": "q1", "text": "CANARY question"}\n')
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "queries.jsonl").symlink_to(outside / "queries.jsonl")
    (folder / "qrels").symlink_to(outside / "qrels")
    with pytest.raises(ValueError, match="outside the collection") as raised:
        read_queries(folder)
    assert "CANARY" not in str(raised.value)
    with pytest.raises(ValueError, match="outside the collection"):
        read_qrels(folder)


def test_a_fifo_for_queries_never_blocks(tmp_path: Path) -> None:
    folder = _labelled(tmp_path / "c")
    (folder / "queries.jsonl").unlink()
    os.mkfifo(folder / "queries.jsonl")
    assert not has_labels(folder)
    with deadline(10), pytest.raises(ValueError, match="not a regular file"):
        read_queries(folder)


@pytest.mark.parametrize("line", ["[1]", "42", "[" * 1100 + "]" * 1100])
def test_a_query_line_that_is_not_an_object_is_a_clear_error(tmp_path: Path, line: str) -> None:
    folder = _labelled(tmp_path / "c", line + "\n")
    with pytest.raises(ValueError, match="queries.jsonl:1"):
        read_queries(folder)


def test_what_eval_installs_beside_the_corpus_is_neither_a_document_nor_a_skip(tmp_path: Path) -> None:
    source = _labelled(tmp_path / "beir")
    (source / "corpus.jsonl").write_text('{"_id": "d1", "text": "hybrid retrieval"}\n')
    target = tmp_path / "collections" / "labelled"
    install_beir(source, target)
    items = list(iter_collection(target))
    assert [(type(i).__name__, i.doc_id) for i in items] == [("Document", "d1")]
