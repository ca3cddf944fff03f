"""Finding what a data root and a collection folder hold: the collection folders (safe
names only), every input file of a collection, and the collection's fingerprint."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from ..storage.hashing import update_with_file
from .corpus import CORPUS_FILENAME, iter_corpus
from .documents import TEXT_SUFFIXES, Document, ReadLimits, SkippedDocument, SkipReason, read_text_file
from .names import collection_name_problems

# Files a labelled BEIR folder carries beside its corpus; they are not documents.
EVALUATION_FILES = {"queries.jsonl"}
EVALUATION_DIRS = {"qrels"}


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
    """Yield every document of ``folder`` (recursively, sorted, hidden entries ignored)."""
    limits = limits or ReadLimits()
    seen_ids: set[str] = set()
    for path in sorted(walk_inputs(folder)):
        rel = path.relative_to(folder).as_posix()
        if path.name == CORPUS_FILENAME:
            yield from iter_corpus(path, rel, folder, seen_ids, limits)
            continue
        kind = TEXT_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            yield SkippedDocument(doc_id=rel, source_path=rel, reason=SkipReason.UNSUPPORTED_TYPE,
                                  detail=f"suffix {path.suffix or '(none)'!r} is not one of .txt, .md, corpus.jsonl")
            continue
        item = read_text_file(path, rel, kind, limits)
        if isinstance(item, Document):
            if item.doc_id in seen_ids:
                item = SkippedDocument(doc_id=item.doc_id, source_path=rel, reason=SkipReason.DUPLICATE_ID,
                                       detail="another document already has this id")
            else:
                seen_ids.add(item.doc_id)
        yield item


def walk_inputs(folder: Path) -> Iterator[Path]:
    """Every input file under ``folder``: hidden entries and evaluation files left out."""
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.parent == folder and entry.name in EVALUATION_DIRS:
                continue
            yield from walk_inputs(entry)
        elif entry.is_file():
            if entry.parent == folder and entry.name in EVALUATION_FILES:
                continue
            yield entry


def fingerprint_collection(folder: Path) -> str:
    """sha256 over every input file's relative path and content (evaluation files excluded):
    equal fingerprints mean an unchanged collection."""
    digest = hashlib.sha256()
    for path in sorted(walk_inputs(folder)):
        digest.update(path.relative_to(folder).as_posix().encode("utf-8") + b"\0")
        update_with_file(digest, path)
        digest.update(b"\0")
    return digest.hexdigest()
