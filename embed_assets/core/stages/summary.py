"""The summary stage: the collection's exports and manifest, validated, then published
atomically (a failed validation keeps the last good export)."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pyarrow as pa

from ..manifest.build import build_manifest
from ..manifest.envelopes import ChunksEnvelope, DenseEnvelope, FusionEnvelope, SparseEnvelope, lineage_problems
from ..manifest.models import ExportStage, ManifestV40, RunInfo, VramBudget
from ..manifest.validation import validate_before_publish
from ..storage.exports import write_fused_exports, write_manifest
from ..storage.hashing import sha256_hex
from ..storage.publish import ExportPublisher
from ..telemetry import child_span
from .guards import GuardSettings, document_loss

SUMMARY_SCHEMA = pa.schema([
    pa.field("collection", pa.string()),
    pa.field("schema_version", pa.string()),
    pa.field("manifest_json", pa.string()),
    pa.field("manifest_sha256", pa.string()),
    pa.field("export_version", pa.string()),
])


class PublishRefused(RuntimeError):
    """The run's tables or manifest must not be published; nothing was."""

    def __init__(self, collection: str, problems: list[str], what: str = "manifest failed validation") -> None:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{collection}: {what}: {problems[0]}{more}; the last good export stays published")
        self.problems = problems


@dataclass
class StageEnvelopes:
    chunks: ChunksEnvelope
    dense: DenseEnvelope
    sparse: SparseEnvelope
    fusion: FusionEnvelope

    def problems(self, run_id: str | None) -> list[str]:
        """Why these tables do not belong together (see ``lineage_problems``)."""
        return lineage_problems({"chunks": self.chunks, "dense_embeddings": self.dense,
                                 "sparse_vectors": self.sparse, "fused_vectors": self.fusion}, run_id)


@dataclass
class PublishedExport:
    manifest: ManifestV40
    manifest_json: str
    folder: Path
    table: pa.Table


def package_version() -> str:
    try:
        return version("embed_assets")
    except PackageNotFoundError:
        return "0+unknown"


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


def export_version_name(dagster_run_id: str) -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%fZ}-{dagster_run_id[:8]}"


def run_info(dagster_run_id: str, partition_key: str, run_started: float) -> RunInfo:
    return RunInfo(run_id=str(uuid.uuid4()), dagster_run_id=dagster_run_id, partition_key=partition_key,
                   started_at=_iso(run_started), finished_at=_iso(time.time()), package_version=package_version())


def summary_table(collection: str, manifest: ManifestV40, manifest_json: str, export_version: str) -> pa.Table:
    return pa.table({"collection": [collection], "schema_version": [manifest.schema_version],
                     "manifest_json": [manifest_json], "manifest_sha256": [sha256_hex(manifest_json)],
                     "export_version": [export_version]}, schema=SUMMARY_SCHEMA)


def refuse_unsafe(collection: str, fused: pa.Table, envelopes: StageEnvelopes, previous: Path | None,
                  guards: GuardSettings, chunks_run_id: str | None) -> None:
    """Raise PublishRefused when the tables disagree on their chunks, or the collection lost
    more documents than allowed."""
    problems = envelopes.problems(chunks_run_id)
    if problems:
        raise PublishRefused(collection, problems, "the stage tables come from different chunks")
    loss = document_loss(previous, fused.column("doc_id").to_pylist(), guards)
    if loss.problems:
        raise PublishRefused(collection, loss.problems, "documents lost")


def publish_collection(*, collection: str, fused: pa.Table, envelopes: StageEnvelopes, publisher: ExportPublisher,
                       dagster_run_id: str, run_started: float, sparse_model: str, vram: VramBudget,
                       guards: GuardSettings, chunks_run_id: str | None = None) -> PublishedExport:
    """Write the exports and the manifest into a staging folder, validate the manifest against
    the committed schemas and the previous export, then switch the published version.
    ``chunks_run_id``: when this run wrote the chunks, its id (the chunks must be its own)."""
    started = time.perf_counter()
    previous = publisher.current()
    refuse_unsafe(collection, fused, envelopes, previous, guards, chunks_run_id)
    export_version = export_version_name(dagster_run_id)
    with publisher.staging() as folder:
        with child_span("export", rows=fused.num_rows):
            exports = write_fused_exports(folder, fused)
        export = ExportStage(files=len(exports) + 1, rows=fused.num_rows,
                             latency_ms=(time.perf_counter() - started) * 1000.0)
        manifest = build_manifest(
            collection=collection, run=run_info(dagster_run_id, collection, run_started), chunks=envelopes.chunks,
            dense=envelopes.dense, sparse=envelopes.sparse, fusion=envelopes.fusion, export=export, exports=exports,
            sparse_model=sparse_model, vram=vram, total_wall_ms=(time.time() - run_started) * 1000.0)
        manifest_json = manifest.model_dump_json(indent=2)
        problems = validate_before_publish(json.loads(manifest_json), previous)
        if problems:
            raise PublishRefused(collection, problems)
        write_manifest(folder, manifest_json)
        with child_span("publish", version=export_version):
            final = publisher.publish(folder, export_version)
    return PublishedExport(manifest=manifest, manifest_json=manifest_json, folder=final,
                           table=summary_table(collection, manifest, manifest_json, final.name))
