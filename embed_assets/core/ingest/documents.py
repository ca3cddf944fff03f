"""Documents and recorded skips, and reading one text or Markdown file.

Every file (and every line of a corpus file) is one document *seen*; it becomes a
:class:`Document` or a :class:`SkippedDocument` with a reason, so
``seen = embedded + skipped`` holds. Nothing here ever puts document text into a
reason or a message.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .markdown import markdown_title

TEXT_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}


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


def looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    # Control bytes other than whitespace in a large share of the head: not text.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(head) > 0.10


def decode(raw: bytes) -> tuple[str, bool]:
    """UTF-8 text (a BOM dropped), and whether invalid bytes were replaced."""
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def read_text_file(path: Path, rel: str, kind: str, limits: ReadLimits) -> Document | SkippedDocument:
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.TOO_LARGE,
                                   detail=f"{size} bytes, limit {limits.max_file_bytes}")
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.UNREADABLE,
                               detail=type(exc).__name__)
    if looks_binary(raw[: limits.binary_sniff_bytes]):
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.BINARY,
                               detail="NUL or control bytes in the first bytes")
    text, replaced = decode(raw)
    if not text.strip():
        return SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.EMPTY, detail=f"{size} bytes, no text")
    title = markdown_title(text) if kind == "markdown" else None
    return Document(doc_id=rel, source_path=rel, kind=kind, text=text,  # type: ignore[arg-type]
                    title=title or Path(rel).stem, decoded_with_replacement=replaced)
