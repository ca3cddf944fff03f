"""A collection folder to chunks, with every document accounted for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..manifest.models import DocumentAccounting, SkippedEntry
from .chunking import Chunker
from .discovery import iter_collection
from .documents import Document, ReadLimits, SkippedDocument, SkipReason
from .records import ChunkRecord

SKIPPED_SAMPLE = 200


@dataclass
class ChunkedCollection:
    chunks: list[ChunkRecord]
    accounting: DocumentAccounting


def chunk_collection(folder: Path, collection: str, chunker: Chunker, limits: ReadLimits | None = None) -> ChunkedCollection:
    chunks: list[ChunkRecord] = []
    skipped: list[SkippedDocument] = []
    embedded = 0
    replaced = 0
    for item in iter_collection(folder, limits):
        if isinstance(item, SkippedDocument):
            skipped.append(item)
            continue
        doc: Document = item
        try:
            records = chunker.chunk(doc, collection)
        except Exception as exc:  # noqa: BLE001 - one bad document must not stop the collection
            skipped.append(SkippedDocument(doc_id=doc.doc_id, source_path=doc.source_path,
                                           reason=SkipReason.CHUNKING_FAILED, detail=type(exc).__name__))
            continue
        if not records:
            skipped.append(SkippedDocument(doc_id=doc.doc_id, source_path=doc.source_path, reason=SkipReason.NO_CHUNKS,
                                           detail="the tokenizer found no tokens"))
            continue
        embedded += 1
        replaced += int(doc.decoded_with_replacement)
        chunks.extend(records)
    reasons = Counter(s.reason.value for s in skipped)
    accounting = DocumentAccounting(
        seen=embedded + len(skipped),
        embedded=embedded,
        skipped=len(skipped),
        skipped_by_reason=dict(sorted(reasons.items())),
        skipped_documents=[SkippedEntry(source_path=s.source_path, doc_id=s.doc_id, reason=s.reason.value,
                                        detail=s.detail) for s in skipped[:SKIPPED_SAMPLE]],
        decoded_with_replacement=replaced,
    )
    return ChunkedCollection(chunks=chunks, accounting=accounting)
