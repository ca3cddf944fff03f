"""Writing a collection's exports: the fused records as Parquet and JSONL, and the
manifest, into one version folder."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .manifest import ExportEntry
from .storage import file_sha256

FUSED_PARQUET = "fused_vectors.parquet"
FUSED_JSONL = "fused_vectors.jsonl"
MANIFEST_NAME = "processing_summary.json"


def _entry(folder: Path, name: str, fmt: str, rows: int) -> ExportEntry:
    path = folder / name
    return ExportEntry(name=Path(name).stem, path=name, format=fmt, rows=rows,  # type: ignore[arg-type]
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
