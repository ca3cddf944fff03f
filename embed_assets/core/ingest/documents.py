"""Documents and recorded skips, and turning a file's bytes into text.

Every entry of a collection folder (and every line of a corpus file) is one document
*seen*; it becomes a :class:`Document` or a :class:`SkippedDocument` with a reason, so
``seen = embedded + skipped`` holds. Nothing here ever puts document text into a
reason or a message.
"""

from __future__ import annotations

import codecs
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

TEXT_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown"}


class SkipReason(str, Enum):
    EMPTY = "empty"
    BINARY = "binary"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID_JSON = "invalid_json"
    JSON_TOO_DEEP = "json_too_deep"
    MISSING_ID = "missing_id"
    INVALID_ID = "invalid_id"
    DUPLICATE_ID = "duplicate_id"
    UNREADABLE = "unreadable"
    NO_CHUNKS = "no_chunks"
    CHUNKING_FAILED = "chunking_failed"
    HIDDEN = "hidden"
    SPECIAL_FILE = "special_file"
    UNDECODABLE_NAME = "undecodable_name"
    FOLDER_TOO_DEEP = "folder_too_deep"
    SYMLINK_OUTSIDE = "symlink_outside"
    SYMLINK_LOOP = "symlink_loop"
    DANGLING_SYMLINK = "dangling_symlink"
    DUPLICATE_FILE = "duplicate_file"
    DUPLICATE_FOLDER = "duplicate_folder"
    CHANGED_WHILE_READING = "changed_while_reading"

    @property
    def message(self) -> str:
        """What the reason means, in words (the same for every document: never its text)."""
        return _MESSAGES[self]


_MESSAGES = {
    SkipReason.EMPTY: "the file (or corpus line) holds no text",
    SkipReason.BINARY: "the bytes are not text (NUL or many control bytes)",
    SkipReason.TOO_LARGE: "the file (or corpus line) is larger than the read limit",
    SkipReason.UNSUPPORTED_TYPE: "not a .txt, .md or corpus.jsonl file",
    SkipReason.INVALID_JSON: "a corpus line that is not a JSON object",
    SkipReason.JSON_TOO_DEEP: "a corpus line nested deeper than the JSON nesting limit",
    SkipReason.MISSING_ID: "a corpus line without an _id",
    SkipReason.INVALID_ID: "a corpus line whose _id is neither a string nor an integer",
    SkipReason.DUPLICATE_ID: "an earlier document has the same id; the first one is kept",
    SkipReason.UNREADABLE: "the file or folder could not be opened or read",
    SkipReason.NO_CHUNKS: "the tokenizer found no tokens",
    SkipReason.CHUNKING_FAILED: "chunking the document raised an error",
    SkipReason.HIDDEN: "a hidden entry (its name starts with a dot); never read",
    SkipReason.SPECIAL_FILE: "a FIFO, socket or device; never opened",
    SkipReason.UNDECODABLE_NAME: "the entry's name is not valid UTF-8",
    SkipReason.FOLDER_TOO_DEEP: "a folder nested deeper than the folder depth limit; not walked",
    SkipReason.SYMLINK_OUTSIDE: "a symbolic link that resolves outside the collection folder; never followed",
    SkipReason.SYMLINK_LOOP: "a symbolic link that points back to a folder containing it, or never resolves",
    SkipReason.DANGLING_SYMLINK: "a symbolic link whose target does not exist",
    SkipReason.DUPLICATE_FILE: "the same file was already read under another path (a link to it)",
    SkipReason.DUPLICATE_FOLDER: "the same folder was already walked under another path (a link to it)",
    SkipReason.CHANGED_WHILE_READING: "the entry was replaced between listing the folder and opening it",
}


class Document(BaseModel):
    doc_id: str
    source_path: str = Field(description="Relative to the collection folder, posix separators.")
    kind: Literal["text", "markdown", "beir"]
    text: str
    title: str | None = None
    decoded_with_replacement: bool = False


class SkippedDocument(BaseModel):
    doc_id: str | None = None
    source_path: str = Field(description="Relative to the collection folder; printable (odd bytes escaped).")
    reason: SkipReason
    detail: str = Field(default="", description="Why, in words; never contains document text.")


class ReadLimits(BaseModel):
    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Larger files are skipped as too_large.")
    binary_sniff_bytes: int = Field(default=8192, gt=0)
    max_folder_depth: int = Field(default=64, ge=1, description="Folders nested deeper are skipped as folder_too_deep.")
    max_json_depth: int = Field(default=64, ge=1, description="Corpus lines nested deeper are skipped as json_too_deep.")


def looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    if not head:
        return False
    # Control bytes other than whitespace in a large share of the head: not text.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(head) > 0.10


# Byte order marks that name their encoding unambiguously (UTF-32 before UTF-16: FF FE 00 00
# starts with FF FE).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def decode(raw: bytes) -> tuple[str, bool]:
    """UTF-8 text (a BOM dropped), and whether invalid bytes were replaced."""
    try:
        return raw.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def decode_text(raw: bytes, sniff_bytes: int) -> tuple[str, bool] | None:
    """A file's text and whether bytes were replaced; None when the bytes are not text.

    A UTF-16 or UTF-32 byte order mark decides the encoding (such files are full of NUL
    bytes, so they are decoded before the binary sniff); anything else is UTF-8, with
    invalid bytes replaced.
    """
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            body = raw[len(bom):]
            try:
                text, replaced = body.decode(encoding), False
            except UnicodeDecodeError:
                text, replaced = body.decode(encoding, errors="replace"), True
            return None if looks_binary(text[:sniff_bytes].encode("utf-8")) else (text, replaced)
    if looks_binary(raw[:sniff_bytes]):
        return None
    return decode(raw)
