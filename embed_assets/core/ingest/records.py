"""The chunk record that flows between stages, and its Arrow table form.

Records are pydantic models at API boundaries; between stages the same data travels
as Arrow tables (one row per chunk) so that nothing is pickled and every stored
output is readable by pandas or pyarrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from ..storage.hashing import sha256_hex


class ChunkMetadata(BaseModel):
    model_config = ConfigDict(frozen=True)

    source_path: str = Field(description="Path of the source file, relative to the collection folder (posix).")
    title: str | None = None
    headings: list[str] = Field(default_factory=list)
    char_start: int = 0
    char_end: int = 0


class ChunkRecord(BaseModel):
    """One chunk of one document. ``chunk_id`` is stable: the same text in the same place
    of the same document gets the same id in every run."""

    model_config = ConfigDict(frozen=True)

    chunk_id: str
    doc_id: str
    collection: str
    ordinal: int = Field(ge=0)
    text: str
    token_count: int = Field(ge=0)
    content_hash: str
    metadata: ChunkMetadata


def make_chunk_id(collection: str, doc_id: str, ordinal: int, content_hash: str) -> str:
    return sha256_hex("\x1f".join((collection, doc_id, str(ordinal), content_hash)))[:32]


CHUNK_SCHEMA = pa.schema(
    [
        pa.field("chunk_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("collection", pa.string(), nullable=False),
        pa.field("ordinal", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("token_count", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("headings", pa.list_(pa.string())),
        pa.field("char_start", pa.int64()),
        pa.field("char_end", pa.int64()),
    ]
)
_METADATA_COLUMNS = ("source_path", "title", "headings", "char_start", "char_end")


def chunks_to_table(chunks: Sequence[ChunkRecord]) -> pa.Table:
    cols: dict[str, list[Any]] = {f.name: [] for f in CHUNK_SCHEMA}
    for c in chunks:
        row = {**c.model_dump(exclude={"metadata"}), **c.metadata.model_dump()}
        for name, values in cols.items():
            values.append(row[name])
    return pa.table(cols, schema=CHUNK_SCHEMA)


def table_to_chunks(table: pa.Table) -> list[ChunkRecord]:
    out = []
    for r in table.select([f.name for f in CHUNK_SCHEMA]).to_pylist():
        meta = {k: r.pop(k) for k in _METADATA_COLUMNS}
        meta["headings"] = meta["headings"] or []
        meta["char_start"] = meta["char_start"] or 0
        meta["char_end"] = meta["char_end"] or 0
        out.append(ChunkRecord(**r, metadata=ChunkMetadata(**meta)))
    return out
