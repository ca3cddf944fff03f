"""Bringing a collection's index to the content of a published export, incrementally.

The export's rows become fingerprints (:mod:`.points`). When the served version already
holds exactly those, with the same schema and encoders, nothing is written. Otherwise the
publisher prepares a store readers do not see; the points whose fingerprint it lacks are
upserted there, the points the export no longer has are deleted, the count is verified,
and only then are readers switched to it. ``upserted``/``deleted`` are the changes readers
see (against the served version); ``written`` is what the prepared store needed, which
for a blue/green standby includes catching up with the previous run's changes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from ..storage.exports import FUSED_PARQUET
from ..storage.hashing import file_sha256
from ..telemetry import child_span
from .edge import EdgeTuning
from .points import ExportRows
from .publisher import IndexPublisher, Prepared
from .state import IndexState, QueryEncoding
from .store import IndexSchema, SearchKind, StoreError
from .target import IndexTarget

DELETE_BATCH = 1024
VACUUM_SHARE = 0.2


class ExportMismatch(ValueError):
    """The export on disk is not the one its manifest describes."""


class IndexSyncResult(BaseModel):
    backend: str
    location: str
    collection_name: str
    index_version: int
    physical: str = Field(description="The version folder or collection now served.")
    export_version: str
    points: int
    upserted: int = Field(description="Points new or changed against the previously served version.")
    deleted: int = Field(description="Points gone since the previously served version.")
    written: int = Field(description="Upserts and deletes applied to the prepared store.")
    base: str = Field(description="What the new version was built from (standby, copy, new); 'served' if unchanged.")
    unchanged: bool
    optimized: bool = False
    search: SearchKind = "exact"
    index_schema: IndexSchema
    with_text: bool = False
    latency_ms: float


def read_export(folder: Path, manifest: dict[str, Any]) -> pa.Table:
    """The export's fused records, after checking them against the manifest's sha256."""
    path = folder / FUSED_PARQUET
    entry = next((e for e in manifest.get("exports", []) if e.get("path") == FUSED_PARQUET), None)
    if entry is None or not path.is_file():
        raise ExportMismatch(f"{folder.name} has no {FUSED_PARQUET} listed in its manifest")
    if file_sha256(path) != entry["sha256"]:
        raise ExportMismatch(f"{path.name} in {folder.name} does not match its manifest's sha256")
    return pq.read_table(path)


def should_optimize(points: int, deleted: int, schema: IndexSchema, tuning: EdgeTuning) -> bool:
    """Optimizing pays when a segment is large enough for an HNSW graph, or when enough
    points were deleted that vacuuming them makes segments smaller."""
    return points >= tuning.threshold_points(schema.dense_size) or (deleted > 0 and deleted >= VACUUM_SHARE * points)


def _changes(served: dict[str, str], wanted: dict[str, str]) -> tuple[int, int]:
    upserted = sum(1 for pid, fp in wanted.items() if served.get(pid) != fp)
    return upserted, sum(1 for pid in served if pid not in wanted)


def _apply(prepared: Prepared, rows: ExportRows, wanted: dict[str, str], export_version: str) -> tuple[int, int]:
    """Upsert what the store lacks, delete what the export lacks; (writes, deletes)."""
    store = prepared.store
    present = store.fingerprints()
    stale = [pid for pid in present if pid not in wanted]
    for start in range(0, len(stale), DELETE_BATCH):
        store.delete(stale[start:start + DELETE_BATCH])
    missing = [pid for pid, fp in wanted.items() if present.get(pid) != fp]
    for batch in rows.batches(missing, wanted, export_version):
        store.upsert(batch)
    count = store.count()
    if count != len(wanted):
        raise StoreError(f"the new index version holds {count} points, the export {len(wanted)}")
    return len(missing), len(stale)


def _publish(publisher: IndexPublisher, target: IndexTarget, state: IndexState, rows: ExportRows,
             wanted: dict[str, str]) -> tuple[str, str, int, bool, IndexState]:
    prepared = publisher.prepare(state.index_schema, state.index_version)
    try:
        written, deleted = _apply(prepared, rows, wanted, state.export_version)
        optimized = target.backend == "edge" and should_optimize(
            len(wanted), deleted, state.index_schema, target.tuning) and prepared.store.optimize()
        described = prepared.store.describe()
        state = state.model_copy(update={"search": described.search})
        physical = publisher.publish(prepared, state, wanted)
    except BaseException:
        publisher.abandon(prepared)
        raise
    return physical, prepared.base, written + deleted, bool(optimized), state


def sync_index(target: IndexTarget, collection: str, table: pa.Table, manifest: dict[str, Any],
               export_version: str, with_text: bool = False) -> IndexSyncResult:
    started = time.perf_counter()
    schema = IndexSchema.from_manifest(manifest)
    rows = ExportRows(table, schema, with_text)
    wanted = rows.fingerprints()
    encoding = QueryEncoding.from_manifest(manifest)
    with target.publisher(collection) as publisher:
        served = publisher.served()
        served_fps = publisher.served_fingerprints() if served else {}
        common: dict[str, Any] = {"backend": target.backend, "location": target.location,
                                  "collection_name": publisher.collection_name, "export_version": export_version,
                                  "index_schema": schema, "with_text": with_text}
        state = IndexState(collection=collection, index_version=publisher.next_version(),
                           export_version=export_version, index_schema=schema, encoding=encoding,
                           points=len(wanted), with_text=with_text)
        if served is not None and served.same_content_settings(state) and served_fps == wanted:
            return IndexSyncResult(**common, index_version=served.index_version,
                                   physical=publisher.served_name() or "",
                                   points=len(wanted), upserted=0, deleted=0, written=0, base="served",
                                   unchanged=True, search=served.search,
                                   latency_ms=(time.perf_counter() - started) * 1000.0)
        upserted, deleted = _changes(served_fps, wanted)
        with child_span("index_publish", backend=target.backend, points=len(wanted), upserted=upserted,
                        deleted=deleted, version=state.index_version):
            physical, base, written, optimized, state = _publish(publisher, target, state, rows, wanted)
    return IndexSyncResult(**common, index_version=state.index_version, physical=physical, points=len(wanted),
                           upserted=upserted, deleted=deleted, written=written, base=base, unchanged=False,
                           optimized=optimized, search=state.search,
                           latency_ms=(time.perf_counter() - started) * 1000.0)


def index_published_export(target: IndexTarget, collection: str, folder: Path, manifest: dict[str, Any],
                           with_text: bool = False) -> IndexSyncResult:
    """Index the published export version in ``folder`` (checked against its manifest)."""
    return sync_index(target, collection, read_export(folder, manifest), manifest, folder.name, with_text)


def result_table(result: IndexSyncResult) -> pa.Table:
    """The asset's stored output: one row describing the sync."""
    row = result.model_dump(exclude={"index_schema"})
    row["index_schema"] = result.index_schema.model_dump_json()
    return pa.Table.from_pylist([row])


def summary_row(summary: pa.Table) -> tuple[str, dict[str, Any]]:
    """(export version, manifest) from processing_summary's one-row table."""
    row = summary.slice(0, 1).to_pylist()[0]
    return row["export_version"], json.loads(row["manifest_json"])
