"""Reading a collection folder into documents, with a recorded reason for every skip.

Supported inputs: ``.txt``, ``.md``/``.markdown`` and BEIR-style ``corpus.jsonl``
(``_id``, ``title``, ``text``). Every file (and every line of a corpus file) is one
document *seen*; it is either yielded as a :class:`Document` or as a
:class:`SkippedDocument` with a reason, so ``seen = embedded + skipped`` holds.
Nothing here ever puts document text into a reason or a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

TEXT_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}
CORPUS_FILENAME = "corpus.jsonl"
# Files a labelled BEIR folder carries beside its corpus; they are not documents.
EVALUATION_FILES = {"queries.jsonl"}
EVALUATION_DIRS = {"qrels"}


class SkipReason(str, Enum):
    EMPTY = "empty"
    BINARY = "binary"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID_JSON = "invalid_json"
    MISSING_ID = "missing_id"
    DUPLICATE_ID = "duplicate_id"
    UNREADABLE = "unreadable"
    NO_CHUNKS = "no_chunks"
    CHUNKING_FAILED = "chunking_failed"


class Document(BaseModel):
    doc_id: str
    source_path: str = Field(description="Relative to the collection folder, posix separators.")
    kind: Literal["text", "markdown", "beir"]
    text: str
    title: str | None = None
    decoded_with_replacement: bool = False


class SkippedDocument(BaseModel):
    doc_id: str | None = None
    source_path: str
    reason: SkipReason
    detail: str = Field(default="", description="Why, in words; never contains document text.")


class ReadLimits(BaseModel):
    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Larger files are skipped as too_large.")
    binary_sniff_bytes: int = Field(default=8192, gt=0)


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    # Control bytes other than whitespace in a large share of the head: not text.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(head) > 0.10


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# "):
            return stripped[2:].strip() or None
    return None


def iter_collection(folder: Path, limits: ReadLimits | None = None) -> Iterator[Document | SkippedDocument]:
    """Yield every document of ``folder`` (recursively, sorted, hidden entries ignored)."""
    limits = limits or ReadLimits()
    seen_ids: set[str] = set()
    for path in sorted(_walk(folder)):
        rel = path.relative_to(folder).as_posix()
        if path.name == CORPUS_FILENAME:
            yield from _iter_corpus(path, rel, folder, seen_ids, limits)
            continue
        kind = TEXT_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            yield SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.UNSUPPORTED_TYPE,
                                  detail=f"suffix {path.suffix or '(none)'!r} is not one of .txt, .md, corpus.jsonl")
            continue
        item = _read_text_file(path, rel, kind, limits)
        if isinstance(item, Document):
            if item.doc_id in seen_ids:
                item = SkippedDocument(doc_id=item.doc_id, source_path=rel, reason=SkipReason.DUPLICATE_ID,
                                       detail="another document already has this id")
            else:
                seen_ids.add(item.doc_id)
        yield item


def _walk(folder: Path) -> Iterator[Path]:
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.parent == folder and entry.name in EVALUATION_DIRS:
                continue
            yield from _walk(entry)
        elif entry.is_file():
            if entry.parent == folder and entry.name in EVALUATION_FILES:
                continue
            yield entry


def _read_text_file(path: Path, rel: str, kind: str, limits: ReadLimits) -> Document | SkippedDocument:
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.TOO_LARGE,
                                   detail=f"{size} bytes, limit {limits.max_file_bytes}")
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.UNREADABLE,
                               detail=type(exc).__name__)
    if _looks_binary(raw[: limits.binary_sniff_bytes]):
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.BINARY,
                               detail="NUL or control bytes in the first bytes")
    text, replaced = _decode(raw)
    if not text.strip():
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.EMPTY, detail=f"{size} bytes, no text")
    title = _markdown_title(text) if kind == "markdown" else None
    return Document(doc_id=rel, source_path=rel, kind=kind, text=text,  # type: ignore[arg-type]
                    title=title or Path(rel).stem, decoded_with_replacement=replaced)


def _iter_corpus(path: Path, rel: str, folder: Path, seen_ids: set[str],
                 limits: ReadLimits) -> Iterator[Document | SkippedDocument]:
    # A corpus at the collection's top level keeps its ids; nested ones are prefixed
    # with their folder so that ids stay unique across corpora.
    prefix = "" if path.parent == folder else path.parent.relative_to(folder).as_posix() + "/"
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield SkippedDocument(source_path=rel, reason=SkipReason.UNREADABLE, detail=type(exc).__name__)
        return
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            where = f"{rel}:{lineno}"
            if not raw.strip():
                continue  # blank lines are separators, not documents
            if len(raw) > limits.max_file_bytes:
                yield SkippedDocument(source_path=where, reason=SkipReason.TOO_LARGE,
                                      detail=f"line of {len(raw)} bytes, limit {limits.max_file_bytes}")
                continue
            line, replaced = _decode(raw)
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON,
                                      detail=f"{exc.msg} at column {exc.colno}")
                continue
            if not isinstance(obj, dict):
                yield SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail="line is not an object")
                continue
            raw_id = obj.get("_id", obj.get("id"))
            if raw_id is None or str(raw_id).strip() == "":
                yield SkippedDocument(source_path=where, reason=SkipReason.MISSING_ID, detail="no _id field")
                continue
            doc_id = prefix + str(raw_id)
            title = obj.get("title") if isinstance(obj.get("title"), str) else None
            text = obj.get("text") if isinstance(obj.get("text"), str) else ""
            if doc_id in seen_ids:
                yield SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.DUPLICATE_ID,
                                      detail="an earlier document has this id; the first one is kept")
                continue
            if not text.strip() and not (title or "").strip():
                yield SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.EMPTY, detail="no text or title")
                continue
            seen_ids.add(doc_id)
            yield Document(doc_id=doc_id, source_path=rel, kind="beir", text=text if text.strip() else (title or ""),
                           title=title or None, decoded_with_replacement=replaced)


def fingerprint_collection(folder: Path) -> str:
    """sha256 over every input file's relative path and content (evaluation files excluded):
    equal fingerprints mean an unchanged collection."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(_walk(folder)):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()
