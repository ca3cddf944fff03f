"""Writing a collection's exports: the fused records as Parquet and JSONL, and the
manifest, into one version folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from .hashing import file_sha256

FUSED_PARQUET = "fused_vectors.parquet"
FUSED_JSONL = "fused_vectors.jsonl"
MANIFEST_NAME = "processing_summary.json"


class ExportEntry(BaseModel):
    name: str
    path: str = Field(description="Relative to the manifest's folder.")
    format: Literal["parquet", "jsonl"]
    rows: int
    bytes: int
    sha256: str


def _entry(folder: Path, name: str, fmt: Literal["parquet", "jsonl"], rows: int) -> ExportEntry:
    path = folder / name
    return ExportEntry(name=Path(name).stem, path=name, format=fmt, rows=rows,
                       bytes=path.stat().st_size, sha256=file_sha256(path))


def write_fused_exports(folder: Path, fused: pa.Table) -> list[ExportEntry]:
    clean = fused.replace_schema_metadata(None)
    pq.write_table(clean, folder / FUSED_PARQUET, compression="zstd")
    with open(folder / FUSED_JSONL, "w", encoding="utf-8") as handle:
        for batch in clean.to_batches(max_chunksize=1024):
            for row in batch.to_pylist():
                handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
                handle.write("\n")
    return [_entry(folder, FUSED_PARQUET, "parquet", clean.num_rows), _entry(folder, FUSED_JSONL, "jsonl", clean.num_rows)]


def write_manifest(folder: Path, manifest_json: str) -> Path:
    path = folder / MANIFEST_NAME
    path.write_text(manifest_json, encoding="utf-8")
    return path


def read_manifest(folder: Path | None) -> dict[str, Any] | None:
    """The manifest in an export folder as a dict, or None when there is none."""
    if folder is None:
        return None
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text("utf-8"))
