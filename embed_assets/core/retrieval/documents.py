"""Whole documents back from an export's chunks, and lexical (BM25) vectors of them.

Consecutive chunks of a document overlap (the chunker's ``overlap_tokens``): chunk
``i + 1`` starts with the end of chunk ``i``. Joining the chunks in ordinal order and
keeping each overlap once gives the document's text back; the lexical weighter of the
sparse stage (same tokenizer, BM25 saturation, title boost) then weighs each document
as one unit — its IDF over documents and its length normalization over whole documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..encode.lexical import LexicalWeighter
from ..encode.vectors import SparseVector
from ..ingest.records import ChunkMetadata, ChunkRecord


def join_overlapping(left: str, right: str) -> str:
    """``left`` then ``right``, their longest overlap (a suffix of ``left`` that begins ``right``) kept
    once; without one, joined by a space (the chunker drops the whitespace between adjacent windows).

    Text that repeats itself can look like a longer overlap than the chunker made; a
    document rebuilt from such chunks keeps fewer copies of the repeated words."""
    if not left or not right:
        return left + right
    at = left.find(right[0], max(0, len(left) - len(right)))
    while at >= 0:
        if right.startswith(left[at:]):
            return left[:at] + right
        at = left.find(right[0], at + 1)
    return f"{left} {right}"


def document_texts(doc_ids: Sequence[str], ordinals: Sequence[int], texts: Sequence[str]) -> dict[str, str]:
    """Each document's text from its chunks (in ordinal order)."""
    order = sorted(range(len(doc_ids)), key=lambda i: (str(doc_ids[i]), int(ordinals[i])))
    out: dict[str, str] = {}
    for i in order:
        doc = str(doc_ids[i])
        out[doc] = join_overlapping(out[doc], texts[i]) if doc in out else texts[i]
    return out


def document_lexical_vectors(docs: Sequence[str], texts: dict[str, str], titles: dict[str, str | None],
                             tokenizer: Any) -> list[SparseVector]:
    """BM25 weights of whole documents (in the order of ``docs``), in the tokenizer's id space."""
    records = [ChunkRecord(chunk_id=doc, doc_id=doc, collection="", ordinal=0, text=texts[doc], token_count=0,
                           content_hash="", metadata=ChunkMetadata(source_path="", title=titles.get(doc)))
               for doc in docs]
    weighter = LexicalWeighter(tokenizer)
    return weighter.vectors(records, weighter.fit(records))


def first_values(keys: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """The first value seen for each key."""
    out: dict[str, Any] = {}
    for key, value in zip(keys, values):
        out.setdefault(str(key), value)
    return out

