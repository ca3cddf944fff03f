from pathlib import Path

from embed_assets.core.ingest.discovery import iter_collection
from embed_assets.core.ingest.documents import Document, ReadLimits, SkippedDocument


def _write(folder: Path, name: str, data: bytes) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_every_bad_kind_is_handled_or_skipped_with_a_reason(tmp_path: Path) -> None:
    _write(tmp_path, "good.md", b"# Title\n\nSome text.")
    _write(tmp_path, "empty.txt", b"   \n")
    _write(tmp_path, "binary.txt", b"\x00\x01\x02abc")
    _write(tmp_path, "latin1.txt", "café".encode("latin-1"))
    _write(tmp_path, "huge.txt", b"word " * 400)
    _write(tmp_path, "image.png", b"\x89PNG")
    _write(tmp_path, "queries.jsonl", b'{"_id": "q1", "text": "not a document"}\n')
    _write(tmp_path, "qrels/test.tsv", b"query-id\tcorpus-id\tscore\n")
    _write(tmp_path, ".hidden.txt", b"ignored")
    _write(tmp_path, "corpus.jsonl",
           b'{"_id": "1", "title": "T", "text": "one"}\n'
           b'{"_id": "1", "text": "dup"}\n'
           b"{broken\n"
           b"\n"
           b'{"text": "no id"}\n'
           b'{"_id": "2", "title": "", "text": ""}\n'
           b'["not", "an", "object"]\n')
    items = list(iter_collection(tmp_path, ReadLimits(max_file_bytes=1000)))
    docs = {i.doc_id: i for i in items if isinstance(i, Document)}
    skipped = [(i.source_path, i.reason.value) for i in items if isinstance(i, SkippedDocument)]
    assert set(docs) == {"good.md", "latin1.txt", "1"}
    assert docs["latin1.txt"].decoded_with_replacement and "\ufffd" in docs["latin1.txt"].text
    assert docs["good.md"].title == "Title"
    assert sorted(skipped) == sorted([
        (".hidden.txt", "hidden"), ("binary.txt", "binary"), ("empty.txt", "empty"), ("huge.txt", "too_large"),
        ("image.png", "unsupported_type"), ("corpus.jsonl:2", "duplicate_id"), ("corpus.jsonl:3", "invalid_json"),
        ("corpus.jsonl:5", "missing_id"), ("corpus.jsonl:6", "empty"), ("corpus.jsonl:7", "invalid_json"),
    ])


def test_skip_details_never_echo_document_text(tmp_path: Path) -> None:
    _write(tmp_path, "corpus.jsonl", b'{"_id": "1", "text": "SECRETMARKER"\n{"_id": "1", "text": "SECRETMARKER"}\n'
                                     b'{"_id": "1", "text": "SECRETMARKER two"}\n')
    for item in iter_collection(tmp_path):
        if isinstance(item, SkippedDocument):
            assert "SECRETMARKER" not in item.model_dump_json()
