"""Token-aware chunking with the dense model's tokenizer.

Windows of ``chunk_tokens`` tokens with ``overlap_tokens`` of overlap, cut at word
boundaries where possible. Every chunk is re-measured with the tokenizer of every
model that will read it and split further if it would exceed that model's maximum
sequence length, so no model ever truncates a chunk silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field, model_validator

from ..storage.hashing import sha256_hex
from .documents import Document
from .markdown import heading_index
from .records import ChunkMetadata, ChunkRecord, make_chunk_id

# Tokenize long documents in pieces of about this many characters (cut at a line end)
# so a huge file never needs one giant offsets list.
_SEGMENT_CHARS = 200_000


class Tokenizer(Protocol):
    def __call__(self, text: Any, **kwargs: Any) -> Any: ...


class ChunkingConfig(BaseModel):
    chunk_tokens: int = Field(default=200, ge=8, description="Target tokens per chunk (without special tokens).")
    overlap_tokens: int = Field(default=32, ge=0, description="Tokens shared by consecutive chunks of a document.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.chunk_tokens:
            raise ValueError(f"overlap_tokens ({self.overlap_tokens}) must be below chunk_tokens ({self.chunk_tokens})")
        return self


@dataclass(frozen=True)
class TokenLimit:
    """A model's tokenizer and the most content tokens it reads without truncating."""

    name: str
    tokenizer: Tokenizer
    max_tokens: int


def count_tokens(tokenizer: Tokenizer, texts: Sequence[str]) -> list[int]:
    if not texts:
        return []
    enc = tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False)
    return [len(ids) for ids in enc["input_ids"]]


class Chunker:
    def __init__(self, config: ChunkingConfig, limits: Sequence[TokenLimit]) -> None:
        if not limits:
            raise ValueError("at least one tokenizer limit is needed (the dense model's)")
        self.config = config
        self.limits = list(limits)
        self.primary = self.limits[0].tokenizer
        smallest = min(limit.max_tokens for limit in self.limits)
        self.window = min(config.chunk_tokens, smallest)
        self.overlap = min(config.overlap_tokens, self.window // 2)

    def chunk(self, doc: Document, collection: str) -> list[ChunkRecord]:
        spans = [span for seg_start, seg in _segments(doc.text) for span in self._windows(seg, seg_start)]
        spans = self._enforce_limits(doc.text, spans)
        headings = heading_index(doc.text) if doc.kind == "markdown" else None
        texts = [doc.text[s:e] for s, e in spans]
        counts = count_tokens(self.primary, texts)
        records = []
        for ordinal, ((start, end), text, n_tokens) in enumerate(zip(spans, texts, counts)):
            content_hash = sha256_hex(text)
            records.append(
                ChunkRecord(
                    chunk_id=make_chunk_id(collection, doc.doc_id, ordinal, content_hash),
                    doc_id=doc.doc_id,
                    collection=collection,
                    ordinal=ordinal,
                    text=text,
                    token_count=n_tokens,
                    content_hash=content_hash,
                    metadata=ChunkMetadata(
                        source_path=doc.source_path,
                        title=doc.title,
                        headings=headings.at(start) if headings else [],
                        char_start=start,
                        char_end=end,
                    ),
                )
            )
        return records

    # -- windows over one segment ------------------------------------------------
    def _windows(self, text: str, base: int) -> list[tuple[int, int]]:
        enc = self.primary(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        n = len(offsets)
        if n == 0:
            return []
        try:
            words = enc.word_ids()
        except (AttributeError, ValueError):  # slow tokenizers have no word ids
            words = list(range(n))
        spans: list[tuple[int, int]] = []
        start = 0
        while start < n:
            end = min(start + self.window, n)
            if end < n:
                floor = start + max(1, self.window // 2)
                cut = end
                while cut > floor and words[cut] is not None and words[cut] == words[cut - 1]:
                    cut -= 1
                end = cut if cut > floor else end
            spans.append((base + offsets[start][0], base + offsets[end - 1][1]))
            if end >= n:
                break
            nxt = max(end - self.overlap, start + 1)
            while nxt > start + 1 and words[nxt] is not None and words[nxt] == words[nxt - 1]:
                nxt -= 1
            start = nxt
        return spans

    def _enforce_limits(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Split any span that some model's tokenizer would need to truncate."""
        for limit in self.limits:
            pending = spans
            spans = []
            while pending:
                counts = count_tokens(limit.tokenizer, [text[s:e] for s, e in pending])
                too_long = []
                for span, n in zip(pending, counts):
                    if n <= limit.max_tokens or span[1] - span[0] <= 1:
                        spans.append(span)
                    else:
                        too_long.append(span)
                pending = [half for span in too_long for half in _halves(text, span)]
            spans.sort()
        return spans


def _halves(text: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    start, end = span
    mid = (start + end) // 2
    space = text.rfind(" ", start + 1, mid + 1)
    if space > start:
        mid = space
    return [(start, mid), (mid, end)]


def _segments(text: str) -> list[tuple[int, str]]:
    if len(text) <= _SEGMENT_CHARS:
        return [(0, text)]
    out = []
    pos = 0
    while pos < len(text):
        cut = min(pos + _SEGMENT_CHARS, len(text))
        if cut < len(text):
            nl = text.rfind("\n", pos + _SEGMENT_CHARS // 2, cut)
            cut = nl + 1 if nl > 0 else cut
        out.append((pos, text[pos:cut]))
        pos = cut
    return out
