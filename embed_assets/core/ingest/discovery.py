"""Finding what a data root and a collection folder hold: the collection folders (safe
names only), every document of a collection, and the collection's fingerprint.

Reading and fingerprinting follow one walk (:mod:`.walk`), so the fingerprint covers
exactly what is read, never reads outside the collection folder either, and records an
entry it cannot read instead of failing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .corpus import CORPUS_FILENAME, iter_corpus
from .documents import TEXT_SUFFIXES, Document, ReadLimits, SkippedDocument, SkipReason
from .names import collection_name_problems
from .reading import Refused, open_input, read_text_file
from .walk import EVALUATION_DIRS, EVALUATION_FILES, InputFile, WalkSkip, os_error, walk_collection

__all__ = ["EVALUATION_DIRS", "EVALUATION_FILES", "discover_collections", "fingerprint_collection",
           "iter_collection"]
_BLOCK = 1 << 20


def discover_collections(folder: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Safe collection folder names, and the unsafe ones with their problems."""
    safe: list[str] = []
    refused: dict[str, list[str]] = {}
    if not folder.is_dir():
        return safe, refused
    for entry in sorted(folder.iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        problems = collection_name_problems(entry.name)
        if problems:
            refused[entry.name] = problems
        else:
            safe.append(entry.name)
    return safe, refused


def iter_collection(folder: Path, limits: ReadLimits | None = None) -> Iterator[Document | SkippedDocument]:
    """Yield every document of ``folder`` and every entry skipped, in path order."""
    limits = limits or ReadLimits()
    walk = walk_collection(folder, limits)
    seen_ids: set[str] = set()
    for entry in walk.entries:
        if isinstance(entry, WalkSkip):
            yield SkippedDocument(source_path=entry.rel, reason=entry.reason, detail=entry.detail)
            continue
        if entry.name == CORPUS_FILENAME:
            yield from iter_corpus(entry, walk.root, seen_ids, limits)
            continue
        suffix = PurePosixPath(entry.name).suffix
        kind = TEXT_SUFFIXES.get(suffix.lower())
        if kind is None:
            yield SkippedDocument(doc_id=entry.rel, source_path=entry.rel, reason=SkipReason.UNSUPPORTED_TYPE,
                                  detail=f"suffix {suffix or '(none)'!r} is not one of .txt, .md, corpus.jsonl")
            continue
        item = read_text_file(entry, walk.root, kind, limits)
        if isinstance(item, Document):
            if item.doc_id in seen_ids:
                item = SkippedDocument(doc_id=item.doc_id, source_path=entry.rel, reason=SkipReason.DUPLICATE_ID,
                                       detail="another document already has this id")
            else:
                seen_ids.add(item.doc_id)
        yield item


def fingerprint_collection(folder: Path, limits: ReadLimits | None = None) -> str:
    """sha256 over every entry of the walk: a file's relative path and content, a skipped
    entry's path and reason (evaluation files excluded). Equal fingerprints mean an
    unchanged collection. Files the reader never reads whole (over the read limit, except
    a corpus, which is read line by line; a corpus with NUL bytes at its head) count by
    size and modification time."""
    limits = limits or ReadLimits()
    walk = walk_collection(folder, limits)
    digest = hashlib.sha256()
    for entry in walk.entries:
        digest.update(entry.rel.encode("utf-8") + b"\0")
        if isinstance(entry, WalkSkip):
            digest.update(b"\0skipped:" + entry.reason.value.encode("ascii") + b"\0")
            continue
        _digest_file(digest, entry, walk.root, limits)
        digest.update(b"\0")
    return digest.hexdigest()


def _digest_file(digest: Any, entry: InputFile, root: str, limits: ReadLimits) -> None:
    corpus = entry.name == CORPUS_FILENAME
    if entry.size > limits.max_file_bytes and not corpus:
        digest.update(_by_status(entry))
        return
    try:
        with open_input(entry, root) as handle:
            head = handle.read(limits.binary_sniff_bytes)
            if corpus and b"\0" in head:  # the reader stops at a binary corpus's head; so does this
                digest.update(_by_status(entry))
                return
            digest.update(head)
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
    except Refused as refused:
        digest.update(b"\0skipped:" + refused.reason.value.encode("ascii"))
    except OSError as exc:
        digest.update(b"\0unreadable:" + os_error(exc).encode("ascii"))


def _by_status(entry: InputFile) -> bytes:
    return f"\0size:{entry.size}:mtime:{entry.mtime_ns}".encode("ascii")
