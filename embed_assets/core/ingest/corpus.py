"""Reading a BEIR-style ``corpus.jsonl`` (``_id``, ``title``, ``text``): one document per line.

Lines are read with a bound (a line longer than the read limit is skipped as
``too_large`` without ever being held whole), nesting is measured before parsing (a line
nested deeper than ``max_json_depth`` is ``json_too_deep``, never a ``RecursionError``),
and ids must be strings or integers. A corpus file with no document at all is one
``empty`` skip, so it never vanishes from the accounting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from .documents import Document, ReadLimits, SkippedDocument, SkipReason, decode
from .reading import Refused, open_input
from .walk import InputFile, os_error

CORPUS_FILENAME = "corpus.jsonl"
_DISCARD_BLOCK = 1 << 20
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_TYPES = {dict: "an object", list: "an array", float: "a number with a fraction", bool: "a boolean"}


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
    if b"\x00" in handle.read(limits.binary_sniff_bytes):  # JSON text never holds a NUL byte
        yield SkippedDocument(source_path=rel, reason=SkipReason.BINARY, detail="NUL bytes in the first bytes")
        return
    handle.seek(0)
    found = False
    for lineno, raw in bounded_lines(handle, limits.max_file_bytes):
        found = True
        where = f"{rel}:{lineno}"
        if isinstance(raw, int):
            yield SkippedDocument(source_path=where, reason=SkipReason.TOO_LARGE,
                                  detail=f"line of {raw} bytes, limit {limits.max_file_bytes}")
        else:
            yield _line_document(raw, where, rel, prefix, seen_ids, limits)
    if not found:
        yield SkippedDocument(source_path=rel, reason=SkipReason.EMPTY, detail="no documents in the corpus file")


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | int]]:
    """Non-blank lines with their numbers; a line over ``limit`` bytes comes as its length
    (an int), read past in blocks instead of held."""
    lineno = 0
    while raw := handle.readline(limit + 1):
        lineno += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            size = len(raw)
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(_DISCARD_BLOCK)
                size += len(raw)
            yield lineno, size
        elif raw.strip():  # blank lines are separators, not documents
            yield lineno, raw


def nested_deeper_than(line: str, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than ``limit`` deep (strings ignored)."""
    if line.count("[") + line.count("{") <= limit:
        return False
    depth = 0
    for ch in _NOT_BRACKET.sub("", _JSON_STRING.sub("", line)):
        depth += 1 if ch in "[{" else -1
        if depth > limit:
            return True
    return False


def _parse_line(raw: bytes, where: str, limits: ReadLimits) -> tuple[dict[str, Any], bool] | SkippedDocument:
    if len(raw) > limits.max_file_bytes:
        return SkippedDocument(source_path=where, reason=SkipReason.TOO_LARGE,
                               detail=f"line of {len(raw)} bytes, limit {limits.max_file_bytes}")
    line, replaced = decode(raw)
    if nested_deeper_than(line, limits.max_json_depth):
        return SkippedDocument(source_path=where, reason=SkipReason.JSON_TOO_DEEP,
                               detail=f"nested more than {limits.max_json_depth} levels deep")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail=f"{exc.msg} at column {exc.colno}")
    except RecursionError:
        return SkippedDocument(source_path=where, reason=SkipReason.JSON_TOO_DEEP, detail="nested too deep to parse")
    except ValueError:  # e.g. an integer longer than the interpreter converts
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail="a value out of range")
    if not isinstance(obj, dict):
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_JSON, detail="line is not an object")
    return obj, replaced


def _clean(value: Any) -> tuple[str | None, bool]:
    """A JSON string with lone surrogates (``"\\ud800"``) replaced, and whether any were."""
    if not isinstance(value, str):
        return None, False
    cleaned, count = _SURROGATE.subn("\ufffd", value)
    return cleaned, count > 0


def _doc_id(obj: dict[str, Any], where: str, prefix: str) -> str | SkippedDocument:
    raw_id = obj.get("_id", obj.get("id"))
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        return SkippedDocument(source_path=where, reason=SkipReason.MISSING_ID, detail="no _id field")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        kind = _JSON_TYPES.get(type(raw_id), type(raw_id).__name__)
        return SkippedDocument(source_path=where, reason=SkipReason.INVALID_ID, detail=f"_id is {kind}")
    if isinstance(raw_id, int):
        return prefix + str(raw_id)
    return prefix + (_clean(raw_id)[0] or "")


def _line_document(raw: bytes, where: str, rel: str, prefix: str, seen_ids: set[str],
                   limits: ReadLimits) -> Document | SkippedDocument:
    parsed = _parse_line(raw, where, limits)
    if isinstance(parsed, SkippedDocument):
        return parsed
    obj, replaced = parsed
    doc_id = _doc_id(obj, where, prefix)
    if isinstance(doc_id, SkippedDocument):
        return doc_id
    (title, title_replaced), (text, text_replaced) = _clean(obj.get("title")), _clean(obj.get("text"))
    text = text or ""
    if doc_id in seen_ids:
        return SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.DUPLICATE_ID,
                               detail="an earlier document has this id; the first one is kept")
    if not text.strip() and not (title or "").strip():
        return SkippedDocument(doc_id=doc_id, source_path=where, reason=SkipReason.EMPTY, detail="no text or title")
    seen_ids.add(doc_id)
    return Document(doc_id=doc_id, source_path=rel, kind="beir", text=text if text.strip() else (title or ""),
                    title=title or None, decoded_with_replacement=replaced or title_replaced or text_replaced)
