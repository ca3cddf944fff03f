"""Reading a BEIR-style ``corpus.jsonl`` (``_id``, ``title``, ``text``): one document per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, BinaryIO

from .documents import Document, ReadLimits, SkippedDocument, SkipReason, decode
from .reading import Refused, open_input
from .walk import InputFile, os_error

CORPUS_FILENAME = "corpus.jsonl"


def iter_corpus(entry: InputFile, root: str, seen_ids: set[str],
                limits: ReadLimits) -> Iterator[Document | SkippedDocument]:
    # A corpus at the collection's top level keeps its ids; nested ones are prefixed
    # with their folder so that ids stay unique across corpora.
    prefix = entry.folder + "/" if entry.folder else ""
    try:
        with open_input(entry, root) as handle:
            yield from _corpus_lines(handle, entry.rel, prefix, seen_ids, limits)
    except Refused as refused:
        yield SkippedDocument(source_path=entry.rel, reason=refused.reason, detail=refused.detail)
    except OSError as exc:
        yield SkippedDocument(source_path=entry.rel, reason=SkipReason.UNREADABLE, detail=os_error(exc))


def _corpus_lines(handle: BinaryIO, rel: str, prefix: str, seen_ids: set[str],
                  limits: ReadLimits) -> Iterator[Document | SkippedDocument]:
    for lineno, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue  # blank lines are separators, not documents
        yield _line_document(raw, f"{rel}:{lineno}", rel, prefix, seen_ids, limits)


def _parse_line(raw: bytes, where: str, limits: ReadLimits) -> tuple[dict[str, Any], bool] | SkippedDocument:
    if len(raw) > limits.max_file_bytes:
        return SkippedDocument(source_path=where, reason=SkipReason.TOO_LARGE,
                               detail=f"line of {len(raw)} bytes, limit {limits.max_file_bytes}")
    line, replaced = decode(raw)
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail=f"{exc.msg} at column {exc.colno}")
    if not isinstance(obj, dict):
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail="line is not an object")
    return obj, replaced


def _line_document(raw: bytes, where: str, rel: str, prefix: str, seen_ids: set[str],
                   limits: ReadLimits) -> Document | SkippedDocument:
    parsed = _parse_line(raw, where, limits)
    if isinstance(parsed, SkippedDocument):
        return parsed
    obj, replaced = parsed
    raw_id = obj.get("_id", obj.get("id"))
    if raw_id is None or str(raw_id).strip() == "":
        return SkippedDocument(source_path=where, reason=SkipReason.MISSING_ID, detail="no _id field")
    doc_id = prefix + str(raw_id)
    title = obj.get("title") if isinstance(obj.get("title"), str) else None
    text = obj.get("text") if isinstance(obj.get("text"), str) else ""
    if doc_id in seen_ids:
        return SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.DUPLICATE_ID,
                               detail="an earlier document has this id; the first one is kept")
    if not text.strip() and not (title or "").strip():
        return SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.EMPTY, detail="no text or title")
    seen_ids.add(doc_id)
    return Document(doc_id=doc_id, source_path=rel, kind="beir", text=text if text.strip() else (title or ""),
                    title=title or None, decoded_with_replacement=replaced)
