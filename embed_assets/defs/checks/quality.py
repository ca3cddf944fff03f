"""Retrieval quality on a labelled set kept in the collection folder."""

from typing import Any

import dagster as dg
import pyarrow as pa

from embed_assets.core.ingest.beir import has_labels, read_qrels, read_queries
from embed_assets.core.retrieval.evaluation import DEFAULT_HYBRID, evaluate_retrievers, hybrid_spec
from embed_assets.core.retrieval.index import ExportIndex
from embed_assets.resources import ModelManagerResource

from ..assets import fused_vectors
from ..metadata import counts_table
from ..resources import PathsResource, QualityGatesResource
from .common import check_options, problems_md

CHECK_NAME = "retrieval_quality"


def previous_quality(context: dg.AssetCheckExecutionContext, check_name: str = CHECK_NAME) -> float | None:
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


def scored_mode(configured: str, available: list[str]) -> str:
    """The retriever the gate scores: ``hybrid`` means the product's default fusion."""
    if configured != "hybrid":
        return configured
    members = hybrid_spec(available).members
    return DEFAULT_HYBRID if len(members) > 1 else members[0]


def metrics_table(results: dict[str, dict[str, float]]) -> dg.MetadataValue:
    """Every method's metrics, one row per method."""
    names = sorted({m for d in results.values() for m in d})
    schema = dg.TableSchema(columns=[dg.TableColumn("method", "string"),
                                     *(dg.TableColumn(n, "float") for n in names)])
    return dg.MetadataValue.table(schema=schema, records=[
        dg.TableRecord({"method": k, **{n: round(d.get(n, 0.0), 4) for n in names}}) for k, d in results.items()])


def quality_problems(value: float, previous: float | None, gates: QualityGatesResource) -> list[str]:
    problems = []
    if value < gates.quality_floor:
        problems.append(f"nDCG@10 {value:.4f} < floor {gates.quality_floor}")
    if previous is not None and previous - value > gates.quality_tolerance:
        problems.append(f"nDCG@10 dropped {previous - value:.4f} (from {previous:.4f}), more than "
                        f"{gates.quality_tolerance}")
    return problems


@dg.asset_check(**check_options(fused_vectors, "When the collection folder holds a labelled set (queries.jsonl + "
                                               "qrels/test.tsv), nDCG@10 of the configured retriever must reach the "
                                               "floor and not drop more than the tolerance against the previous "
                                               "materialization. Blocking unless configured as a warning."))
def retrieval_quality(context: dg.AssetCheckExecutionContext, fused_vectors: pa.Table, paths: PathsResource,
                      gates: QualityGatesResource, model_manager: ModelManagerResource) -> dg.AssetCheckResult:
    folder = paths.collection_folder(context.partition_key)
    if not has_labels(folder):
        return dg.AssetCheckResult(passed=True, metadata={"labelled_set": "none in the collection folder"})
    index = ExportIndex.from_table(fused_vectors)
    results = evaluate_retrievers(index, model_manager.query_encoder(), read_queries(folder), read_qrels(folder))
    mode = scored_mode(gates.quality_mode, index.available())
    severity = dg.AssetCheckSeverity.ERROR if gates.quality_blocking else dg.AssetCheckSeverity.WARN
    per_method = {name: round(m["ndcg@10"], 4) for name, m in results.items()}
    if mode not in results:
        return dg.AssetCheckResult(passed=False, severity=severity, metadata={
            "mode": mode, "ndcg@10 by method": counts_table(per_method, "method", "ndcg@10"),
            "problems": f"{mode} is not available in this export (enable its vectors)"})
    value = results[mode]["ndcg@10"]
    previous = previous_quality(context)
    problems = quality_problems(value, previous, gates)
    metadata: dict[str, Any] = {
        "mode": mode, "ndcg@10": value, "previous_ndcg@10": previous if previous is not None else "none",
        "floor": gates.quality_floor, "tolerance": gates.quality_tolerance,
        "ndcg@10 by method": counts_table(per_method, "method", "ndcg@10"),
        "metrics": metrics_table(results),
        "problems": problems_md(problems)}
    return dg.AssetCheckResult(passed=not problems, severity=severity, metadata=metadata)
