"""Corpus lines and file encodings that used to fail a collection, or to be lost, are
handled or recorded skips: deep nesting, odd ids, lone surrogates, lines over the limit,
empty and binary corpora, UTF-16/32 files."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from embed_assets.core.ingest.discovery import fingerprint_collection, iter_collection
from embed_assets.core.ingest.documents import Document, ReadLimits, SkippedDocument


def _items(folder: Path, limits: ReadLimits | None = None) -> tuple[dict[str, Document], list[tuple[str, str]]]:
    items = list(iter_collection(folder, limits))
    docs = {i.doc_id: i for i in items if isinstance(i, Document)}
    return docs, sorted((i.source_path, i.reason.value) for i in items if isinstance(i, SkippedDocument))


def _corpus(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "corpus.jsonl").write_text("".join(line + "\n" for line in lines))
    return tmp_path


def test_a_line_nested_1100_deep_is_a_skip_not_a_recursion_error(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, '{"_id": "1", "text": "fine"}', '{"_id": "2", "text": ' + "[" * 1100 + "]" * 1100 + "}",
                     '{"_id": "3", "text": "also fine"}')
    docs, skips = _items(folder)
    assert sorted(docs) == ["1", "3"]
    assert skips == [("corpus.jsonl:2", "json_too_deep")]


def test_nesting_is_measured_outside_strings(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, '{"_id": "1", "text": "' + "[" * 500 + '", "meta": [[[1]]]}')
    docs, skips = _items(folder, ReadLimits(max_json_depth=4))
    assert list(docs) == ["1"] and skips == []


def test_ids_must_be_strings_or_integers(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, '{"_id": 7, "text": "number"}', '{"_id": {"a": 1}, "text": "object"}',
                     '{"_id": true, "text": "boolean"}', '{"_id": 1.5, "text": "fraction"}',
                     '{"_id": "  ", "text": "blank"}', '{"_id": 1' + "0" * 5000 + ', "text": "huge"}')
    docs, skips = _items(folder)
    assert list(docs) == ["7"]
    assert skips == [("corpus.jsonl:2", "invalid_id"), ("corpus.jsonl:3", "invalid_id"),
                     ("corpus.jsonl:4", "invalid_id"), ("corpus.jsonl:5", "missing_id"),
                     ("corpus.jsonl:6", "invalid_json")]


def test_lone_surrogates_are_replaced(tmp_path: Path) -> None:
    folder = _corpus(tmp_path, '{"_id": "s\\udc00", "title": "t\\ud800", "text": "broken \\ud800 pair"}')
    docs, _ = _items(folder)
    [doc] = docs.values()
    assert doc.doc_id == "s\ufffd" and doc.title == "t\ufffd" and doc.text == "broken \ufffd pair"
    assert doc.decoded_with_replacement
    doc.model_dump_json().encode("utf-8")


def test_a_line_over_the_limit_is_skipped_without_being_held(tmp_path: Path) -> None:
    (tmp_path / "corpus.jsonl").write_text('{"_id": "1", "text": "' + "a" * 5000 + '"}\n{"_id": "2", "text": "ok"}\n')
    docs, skips = _items(tmp_path, ReadLimits(max_file_bytes=1000))
    assert list(docs) == ["2"] and skips == [("corpus.jsonl:1", "too_large")]


def test_empty_and_binary_corpora_are_recorded(tmp_path: Path) -> None:
    for name, data in {"empty": b"", "blank": b"\n \n\n", "binary": b"\x89PNG\r\n\x1a\n\x00\x00"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "corpus.jsonl").write_bytes(data)
    sparse = tmp_path / "sparse" / "corpus.jsonl"
    sparse.parent.mkdir()
    sparse.write_bytes(b"")
    os.truncate(sparse, 1 << 30)  # a gigabyte of nothing: neither read nor hashed past its head
    docs, skips = _items(tmp_path)
    assert docs == {}
    assert skips == [("binary/corpus.jsonl", "binary"), ("blank/corpus.jsonl", "empty"),
                     ("empty/corpus.jsonl", "empty"), ("sparse/corpus.jsonl", "binary")]
    assert fingerprint_collection(tmp_path)


def test_utf16_and_utf32_with_a_byte_order_mark_are_decoded(tmp_path: Path) -> None:
    text = "naïve café über"
    (tmp_path / "le.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    (tmp_path / "32.txt").write_bytes(text.encode("utf-32"))
    (tmp_path / "8.txt").write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    (tmp_path / "odd.txt").write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le") + b"\x00")  # an odd byte
    docs, skips = _items(tmp_path)
    assert skips == []
    assert {d: (doc.text.rstrip("\ufffd"), doc.decoded_with_replacement) for d, doc in docs.items()} == {
        "le.txt": (text, False), "be.txt": (text, False), "32.txt": (text, False), "8.txt": (text, False),
        "odd.txt": (text, True)}
