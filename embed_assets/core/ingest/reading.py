"""Opening what the walk found, and only that: a text or Markdown file to a document.

A file is opened with ``O_NOFOLLOW`` (a final component swapped for a link fails) and
``O_NONBLOCK`` (a file swapped for a FIFO cannot block the run); once open it must still
be a regular file with the device and inode the walk saw, and its real path must lie
inside the collection. Reads are bounded by the read limit, however large the file has
grown since it was listed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .documents import Document, ReadLimits, SkippedDocument, SkipReason, decode_text
from .markdown import markdown_title
from .walk import InputFile, fd_path, is_inside, os_error

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class Refused(Exception):
    """An entry that is not read, and why."""

    def __init__(self, reason: SkipReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _check_opened(fd: int, entry: InputFile, root: str) -> None:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise Refused(SkipReason.SPECIAL_FILE, "no longer a regular file when opened; not read")
    if (st.st_dev, st.st_ino) != (entry.dev, entry.ino):
        raise Refused(SkipReason.CHANGED_WHILE_READING, "the file was replaced between listing and opening")
    where = fd_path(fd)
    if where is not None and not is_inside(where, root):
        raise Refused(SkipReason.SYMLINK_OUTSIDE, "the opened file lies outside the collection folder")


@contextlib.contextmanager
def open_input(entry: InputFile, root: str) -> Iterator[BinaryIO]:
    """``entry`` open for reading, if it is still the regular file the walk found inside ``root``.

    Raises :class:`Refused` otherwise, and ``OSError`` when reading fails."""
    try:
        fd = os.open(entry.real, _FILE_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(SkipReason.CHANGED_WHILE_READING, "replaced by a symbolic link before opening") from None
        raise Refused(SkipReason.UNREADABLE, os_error(exc)) from None
    try:
        _check_opened(fd, entry, root)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def open_known_file(folder: Path, rel: str) -> contextlib.AbstractContextManager[BinaryIO]:
    """A file the product looks for by name in a collection folder (``queries.jsonl``), open
    for reading only if it is a regular file inside the folder; :class:`Refused` otherwise."""
    root = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(root, rel))
    if not is_inside(real, root):
        raise Refused(SkipReason.SYMLINK_OUTSIDE, f"{rel} resolves outside the collection folder")
    try:
        st = os.lstat(real)
    except OSError as exc:
        raise Refused(SkipReason.UNREADABLE, f"{rel}: {os_error(exc)}") from None
    if not stat.S_ISREG(st.st_mode):
        raise Refused(SkipReason.SPECIAL_FILE, f"{rel} is not a regular file")
    return open_input(InputFile(rel=rel, real=real, dev=st.st_dev, ino=st.st_ino, size=st.st_size,
                                mtime_ns=st.st_mtime_ns), root)


def _skip(entry: InputFile, reason: SkipReason, detail: str) -> SkippedDocument:
    return SkippedDocument(doc_id=entry.rel, source_path=entry.rel, reason=reason, detail=detail)


def read_text_file(entry: InputFile, root: str, kind: str, limits: ReadLimits) -> Document | SkippedDocument:
    """A ``.txt`` or ``.md`` file as a document, or the reason it is skipped."""
    too_large = f"{entry.size} bytes, limit {limits.max_file_bytes}"
    if entry.size > limits.max_file_bytes:
        return _skip(entry, SkipReason.TOO_LARGE, too_large)
    try:
        with open_input(entry, root) as handle:
            raw = handle.read(limits.max_file_bytes + 1)
    except Refused as refused:
        return _skip(entry, refused.reason, refused.detail)
    except OSError as exc:
        return _skip(entry, SkipReason.UNREADABLE, os_error(exc))
    if len(raw) > limits.max_file_bytes:
        return _skip(entry, SkipReason.TOO_LARGE, f"grew past the limit of {limits.max_file_bytes} bytes")
    decoded = decode_text(raw, limits.binary_sniff_bytes)
    if decoded is None:
        return _skip(entry, SkipReason.BINARY, "NUL or control bytes in the first bytes")
    text, replaced = decoded
    if not text.strip():
        return _skip(entry, SkipReason.EMPTY, f"{len(raw)} bytes, no text")
    title = markdown_title(text) if kind == "markdown" else None
    return Document(doc_id=entry.rel, source_path=entry.rel, kind=kind, text=text,  # type: ignore[arg-type]
                    title=title or PurePosixPath(entry.rel).stem, decoded_with_replacement=replaced)
