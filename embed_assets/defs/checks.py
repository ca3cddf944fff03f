"""Asset checks: the regression gates. Blocking ones stop downstream assets in the run."""


import json
import warnings
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa

from embed_assets.core.beir import has_labels, read_qrels, read_queries
from embed_assets.core.evaluation import FUSIONS, evaluate_retrievers, hybrid_members
from embed_assets.core.manifest import SCHEMA_VERSION_DENSE
from embed_assets.core.records import stage_metadata, vectors_from_column
from embed_assets.core.retrieval import ExportIndex
from embed_assets.core.storage import ExportPublisher
from embed_assets.core.validation import (
    compatibility_changes,
    expected_version,
    read_manifest,
    schema_problems,
    sparse_sections_missing,
    version_problems,
)
from resources import ModelManagerResource

from .assets import dense_embeddings, fused_vectors, processing_summary, sparse_vectors
from .partitions import collections_partitions
from .resources import PathsResource, QualityGatesResource

# Partitioned checks are what a per-collection gate needs; Dagster marks them preview.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


@dg.asset_check(asset=dense_embeddings, blocking=True, partitions_def=collections_partitions,
                description="Every dense vector (ensemble and per model) has the recorded dimension, "
                            "is finite and has unit norm.")
def embedding_sanity(dense_embeddings: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    stage = stage_metadata(dense_embeddings.schema)["stage"]
    expected = {"dense": stage["dim"], **{f"dense__{m['key']}": m["dim"] for m in stage["models"]}}
    problems: list[str] = []
    worst_norm_error = 0.0
    for column, dim in expected.items():
        if column not in dense_embeddings.column_names:
            problems.append(f"{column}: missing")
            continue
        found = dense_embeddings.schema.field(column).type.list_size
        if found != dim:
            problems.append(f"{column}: dimension {found}, expected {dim}")
            continue
        matrix = vectors_from_column(dense_embeddings.column(column))
        if not np.isfinite(matrix).all():
            problems.append(f"{column}: {int((~np.isfinite(matrix)).any(axis=1).sum())} vectors with NaN/inf")
            continue
        if len(matrix):
            err = float(np.abs(np.linalg.norm(matrix, axis=1) - 1.0).max())
            worst_norm_error = max(worst_norm_error, err)
            if err > gates.norm_tolerance:
                problems.append(f"{column}: norm off by {err:.2e} (tolerance {gates.norm_tolerance:.0e})")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows": dense_embeddings.num_rows, "expected_dims": dg.MetadataValue.json(expected),
                  "max_norm_error": worst_norm_error, "problems": dg.MetadataValue.md("\n".join(problems) or "none")},
    )


@dg.asset_check(asset=sparse_vectors, blocking=True, partitions_def=collections_partitions,
                description="Sparse coverage at least the threshold and fallback ratio at most the threshold.")
def sparse_coverage_and_fallback(sparse_vectors: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    meta = stage_metadata(sparse_vectors.schema)
    if not meta.get("enabled"):
        return dg.AssetCheckResult(passed=True, metadata={"enabled": False,
                                                          "decided_by": meta.get("decision", {}).get("decided_by", "")})
    stage = meta["stage"]
    n = max(stage["count"], 1)
    fallback_ratio = stage["source_counts"].get("metadata", 0) / n
    coverage = float(stage["coverage"])
    problems = []
    if coverage < gates.min_sparse_coverage:
        problems.append(f"coverage {coverage:.3f} < {gates.min_sparse_coverage}")
    if fallback_ratio > gates.max_fallback_ratio:
        problems.append(f"fallback ratio {fallback_ratio:.3f} > {gates.max_fallback_ratio}")
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"enabled": True, "coverage": coverage, "min_coverage": gates.min_sparse_coverage,
                  "fallback_ratio": fallback_ratio, "max_fallback_ratio": gates.max_fallback_ratio,
                  "fallback_reason": stage.get("fallback_reason") or "",
                  "source_counts": dg.MetadataValue.json(stage["source_counts"]),
                  "problems": dg.MetadataValue.md("\n".join(problems) or "none")},
    )


@dg.asset_check(asset=fused_vectors, blocking=True, partitions_def=collections_partitions,
                description="Fused records have the schema of what ran: hybrid columns exactly when sparse ran.")
def fused_schema_matches_run(fused_vectors: pa.Table) -> dg.AssetCheckResult:
    meta = stage_metadata(fused_vectors.schema)
    enabled = bool(meta.get("sparse_enabled"))
    sparse_cols = {"sparse_indices", "sparse_values", "sparse_source", "sparse_norm"}
    present = sparse_cols & set(fused_vectors.column_names)
    problems = []
    if enabled and present != sparse_cols:
        problems.append(f"sparse ran but columns {sorted(sparse_cols - present)} are missing")
    if not enabled and present:
        problems.append(f"sparse was off but columns {sorted(present)} are present")
    modes = set(fused_vectors.column("fusion_mode").to_pylist())
    if modes - {"hybrid" if enabled else "dense_only"}:
        problems.append(f"fusion_mode values {sorted(modes)} do not match the run")
    return dg.AssetCheckResult(passed=not problems, metadata={
        "sparse_enabled": enabled, "expected_manifest_version": "4.1" if enabled else SCHEMA_VERSION_DENSE,
        "columns": ", ".join(fused_vectors.column_names), "problems": dg.MetadataValue.md("\n".join(problems) or "none")})


def _previous_quality(context: dg.AssetCheckExecutionContext, check_name: str) -> float | None:
    """nDCG@10 of this check's last evaluation on the same partition, from Dagster's check history."""
    from dagster._core.event_api import PartitionKeyFilter

    key = dg.AssetCheckKey(dg.AssetKey("fused_vectors"), check_name)
    history = context.instance.event_log_storage.get_asset_check_execution_history(
        key, limit=10, partition_filter=PartitionKeyFilter(key=context.partition_key))
    for record in history:
        if record.run_id == context.run.run_id or record.event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data  # type: ignore[union-attr]
        value = getattr(evaluation, "metadata", {}).get("ndcg@10")
        if value is not None:
            return float(value.value)
    return None


@dg.asset_check(asset=fused_vectors, blocking=True, partitions_def=collections_partitions,
                description="When the collection folder holds a labelled set (queries.jsonl + qrels/test.tsv), "
                            "nDCG@10 of the configured retriever must reach the floor and not drop more than the "
                            "tolerance against the previous materialization. Blocking unless configured as a warning.")
def retrieval_quality(context: dg.AssetCheckExecutionContext, fused_vectors: pa.Table, paths: PathsResource,
                      gates: QualityGatesResource, model_manager: ModelManagerResource) -> dg.AssetCheckResult:
    folder = paths.collection_folder(context.partition_key)
    if not has_labels(folder):
        return dg.AssetCheckResult(passed=True, metadata={"labelled_set": "none in the collection folder"})
    index = ExportIndex.from_table(fused_vectors)
    results = evaluate_retrievers(index, model_manager.query_encoder(), read_queries(folder), read_qrels(folder))
    mode = gates.quality_mode
    if mode == "hybrid":
        method, members = hybrid_members(index.available())
        mode = next((n for n, (m, mem) in FUSIONS.items() if m == method and mem == members), members[0])
    severity = dg.AssetCheckSeverity.ERROR if gates.quality_blocking else dg.AssetCheckSeverity.WARN
    per_method = {name: round(m["ndcg@10"], 4) for name, m in results.items()}
    if mode not in results:
        return dg.AssetCheckResult(passed=False, severity=severity, metadata={
            "mode": mode, "ndcg@10 by method": dg.MetadataValue.json(per_method),
            "problems": f"{mode} is not available in this export (enable its vectors)"})
    value = results[mode]["ndcg@10"]
    previous = _previous_quality(context, "retrieval_quality")
    problems = []
    if value < gates.quality_floor:
        problems.append(f"nDCG@10 {value:.4f} < floor {gates.quality_floor}")
    if previous is not None and previous - value > gates.quality_tolerance:
        problems.append(f"nDCG@10 dropped {previous - value:.4f} (from {previous:.4f}), more than "
                        f"{gates.quality_tolerance}")
    return dg.AssetCheckResult(passed=not problems, severity=severity, metadata={
        "mode": mode, "ndcg@10": value, "previous_ndcg@10": previous if previous is not None else "none",
        "floor": gates.quality_floor, "tolerance": gates.quality_tolerance,
        "ndcg@10 by method": dg.MetadataValue.json(per_method),
        "metrics": dg.MetadataValue.json({k: {m: round(v, 4) for m, v in d.items()} for k, d in results.items()}),
        "problems": dg.MetadataValue.md("\n".join(problems) or "none")})


def _manifest(summary: pa.Table) -> dict[str, Any]:
    return json.loads(summary.column("manifest_json")[0].as_py())


@dg.asset_check(asset=processing_summary, blocking=True, partitions_def=collections_partitions,
                description="schema_version matches what ran (4.0 dense-only, 4.1 with sparse_run) and the "
                            "manifest validates against that version's committed JSON Schema.")
def manifest_schema_version(processing_summary: pa.Table) -> dg.AssetCheckResult:
    manifest = _manifest(processing_summary)
    found = manifest.get("schema_version")
    expected = expected_version(manifest)
    problems = version_problems(manifest)
    if found in ("4.0", "4.1"):
        problems += schema_problems(manifest, found)
    requested = bool(manifest.get("activation", {}).get("sparse", {}).get("enabled"))
    warn = sparse_sections_missing(manifest, requested)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"expected_version": expected, "found_version": str(found),
                  "sparse_sections_missing": warn, "problems": dg.MetadataValue.md("\n".join(problems) or "none")},
    )


@dg.asset_check(asset=processing_summary, blocking=True, partitions_def=collections_partitions,
                description="The manifest validates against the committed 4.0 schema, and since the previous "
                            "export of the collection no field disappeared or changed type.")
def manifest_additive_compatibility(processing_summary: pa.Table, paths: PathsResource) -> dg.AssetCheckResult:
    manifest = _manifest(processing_summary)
    problems = schema_problems(manifest, SCHEMA_VERSION_DENSE)
    collection = processing_summary.column("collection")[0].as_py()
    current_version = processing_summary.column("export_version")[0].as_py()
    history = [v for v in ExportPublisher(paths.exports, collection).versions() if v.name < current_version]
    previous = read_manifest(history[-1]) if history else None
    changes = compatibility_changes(previous, manifest) if previous else []
    return dg.AssetCheckResult(
        passed=not problems and not changes,
        metadata={
            "previous_version": history[-1].name if history else "none",
            "previous_schema_version": (previous or {}).get("schema_version", "none"),
            "changes": dg.MetadataValue.json([c.model_dump() for c in changes]),
            "problems": dg.MetadataValue.md("\n".join(problems) or "none"),
        },
    )


ALL_CHECKS = [embedding_sanity, sparse_coverage_and_fallback, fused_schema_matches_run, retrieval_quality,
              manifest_schema_version, manifest_additive_compatibility]
