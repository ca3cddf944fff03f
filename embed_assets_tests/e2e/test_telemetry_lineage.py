"""Spans, typed lineage metadata, and the privacy rule: no chunk text, document text or
query string anywhere but in the data itself."""

import logging
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from embed_assets.core.devices.batching import AdaptiveBatcher, EncodingError
from embed_assets.defs.config import SPARSE_CLI_TAG
from embed_assets.defs.resources import QualityGatesResource
from embed_assets.resources import ModelManagerResource

from ..helpers import materialize_collection, read_manifest

pytestmark = pytest.mark.slow
ASSETS = ["chunks", "dense_embeddings", "sparse_vectors", "fused_vectors", "processing_summary", "vector_index"]


def _tree(exporter: Any, run_id: str) -> dict[str, list[Any]]:
    trace_id = uuid.UUID(run_id).int
    spans: dict[str, list[Any]] = {}
    for span in exporter.get_finished_spans():
        if span.context.trace_id == trace_id:
            spans.setdefault(span.name, []).append(span)
    return spans


def _parent_name(spans: dict[str, list[Any]], span: Any) -> str | None:
    by_id = {s.context.span_id: name for name, group in spans.items() for s in group}
    return by_id.get(span.parent.span_id) if span.parent else None


def test_span_tree_with_sparse_on(instance: dg.DagsterInstance, data_root: Path, span_exporter: Any) -> None:
    span_exporter.clear()
    result = materialize_collection(instance, data_root, "ops-faq")
    assert result.success
    spans = _tree(span_exporter, result.run_id)
    run = spans["embed_assets.run"][0]
    assert run.parent is None and run.attributes["embed_assets.collection"] == "ops-faq"
    assert run.attributes["embed_assets.schema_version"] == "4.1" and run.attributes["dagster.run_id"] == result.run_id
    for asset in ASSETS:
        (span,) = spans[f"embed_assets.{asset}"]
        assert _parent_name(spans, span) == "embed_assets.run"
        assert span.attributes["embed_assets.row_count"] >= 1
    # The shard steps load the models they encode with; the sparse merge loads SPLADE's tokenizer and
    # encodes the probe query (each model once per process: a later step finds it loaded).
    assert {_parent_name(spans, s) for s in spans["embed_assets.model_load"]} == {
        "embed_assets.dense_embeddings", "embed_assets.sparse_vectors", "embed_assets.sparse_vectors.merge"}
    assert {_parent_name(spans, s) for s in spans["embed_assets.batch"]} == {
        "embed_assets.dense_embeddings", "embed_assets.sparse_vectors"}
    batch = spans["embed_assets.batch"][0]
    assert {"embed_assets.batch_size", "embed_assets.device", "embed_assets.stage"} <= set(batch.attributes)
    assert _parent_name(spans, spans["embed_assets.export"][0]) == "embed_assets.processing_summary"
    assert _parent_name(spans, spans["embed_assets.publish"][0]) == "embed_assets.processing_summary"
    assert _parent_name(spans, spans["embed_assets.index_publish"][0]) == "embed_assets.vector_index"
    dense = spans["embed_assets.dense_embeddings"][0].attributes
    assert dense["embed_assets.devices"] == "cpu" and dense["embed_assets.chunks_per_s"] > 0
    assert "embed_assets.fallback" not in spans


def test_span_tree_with_a_forced_fallback(instance: dg.DagsterInstance, data_root: Path, span_exporter: Any) -> None:
    span_exporter.clear()
    result = materialize_collection(
        instance, data_root, "ops-faq", gates=QualityGatesResource(max_fallback_ratio=1.0),
        model_manager=ModelManagerResource(sparse_model=str(data_root / "missing-model")))
    assert result.success
    spans = _tree(span_exporter, result.run_id)
    (fallback,) = spans["embed_assets.fallback"]
    assert _parent_name(spans, fallback) == "embed_assets.sparse_vectors"
    assert fallback.attributes["embed_assets.chunks"] == 6 and fallback.attributes["embed_assets.source"] == "metadata"
    sparse = spans["embed_assets.sparse_vectors"][0]
    assert sparse.attributes["embed_assets.fallback_used"] is True
    assert any(e.name == "batch.metadata_fallback" for e in sparse.events)
    model_load = [s for s in spans["embed_assets.model_load"] if _parent_name(spans, s) == "embed_assets.sparse_vectors"]
    assert model_load[0].attributes["error.type"] == "ModelUnavailable"


def test_column_schema_and_lineage_metadata(instance: dg.DagsterInstance, data_root: Path) -> None:
    assert materialize_collection(instance, data_root, "ops-faq").success
    for asset in ASSETS:
        event = instance.get_latest_materialization_event(dg.AssetKey(asset))
        meta = event.asset_materialization.metadata
        columns = {c.name: c for c in meta["dagster/column_schema"].schema.columns}
        assert columns["chunk_id" if asset != "processing_summary" else "manifest_json"].description
        assert meta["dagster/row_count"].value >= 1
    fused = instance.get_latest_materialization_event(dg.AssetKey("fused_vectors")).asset_materialization.metadata
    lineage = fused["dagster/column_lineage"].column_lineage.deps_by_column
    assert lineage["dense"][0].asset_key == dg.AssetKey("dense_embeddings")
    assert lineage["sparse_values"][0].asset_key == dg.AssetKey("sparse_vectors")
    assert lineage["text"][0].asset_key == dg.AssetKey("chunks")
    summary = instance.get_latest_materialization_event(dg.AssetKey("processing_summary")).asset_materialization
    models = summary.metadata["models"].value.records
    assert [r.data["model"] for r in models] == ["all-MiniLM-L6-v2", "splade-tiny"]
    assert "decided by default" in summary.metadata["settings"].value


MARKERS = ["zqxcanarydoc", "vvkcanarytitle", "pqwcanaryquery"]


def test_canary_markers_appear_only_in_the_data(instance: dg.DagsterInstance, data_root: Path, span_exporter: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    folder = data_root / "collections" / "canary"
    folder.mkdir()
    (folder / "secret.md").write_text(f"# Notes {MARKERS[1]}\n\nThe launch code is {MARKERS[0]} and more text.\n")
    (folder / "corpus.jsonl").write_text(
        f'{{"_id": "c1", "title": "{MARKERS[1]}", "text": "body {MARKERS[0]} body"}}\n'
        f'{{"_id": "c1", "title": "dup", "text": "duplicate {MARKERS[0]}"}}\n{{"_id": "c2", "text": "{MARKERS[0]}\n')
    span_exporter.clear()
    caplog.set_level(logging.DEBUG)
    probe = f"what is {MARKERS[2]} for"
    runs = [materialize_collection(instance, data_root, "canary", run_config={
        "ops": {"sparse_vectors": {"config": {"probe_query": probe}}}})]
    runs.append(materialize_collection(instance, data_root, "canary", tags={SPARSE_CLI_TAG: "disable"}))
    runs.append(materialize_collection(  # a forced fallback, and a failing gate
        instance, data_root, "canary", model_manager=ModelManagerResource(sparse_model=str(folder / "nope")),
        gates=QualityGatesResource(max_fallback_ratio=0.0, strict_sparse=True)))
    assert [r.success for r in runs] == [True, True, False]

    haystacks = {
        "spans": "\n".join(serialize_span(s) for s in span_exporter.get_finished_spans()),
        "logs": caplog.text,
        "event_log": "\n".join(serialize_value(e) for r in runs for e in instance.all_logs(r.run_id)),
        "manifests": "\n".join(p.read_text() for p in (data_root / "exports" / ".history" / "canary").glob(
            "*/processing_summary.json")),
    }
    assert haystacks["manifests"].count('"schema_version"') == 2 and "query_sparse_vector" in haystacks["manifests"]
    for where, text in haystacks.items():
        assert "canary" in text, f"nothing about the run was captured in {where}"  # the search is not vacuous
    assert "sparse_run" not in read_manifest(data_root, "canary")  # the last good export: sparse off
    for where, text in haystacks.items():
        for marker in MARKERS:
            assert marker not in text, f"{marker} leaked into {where}"
    exported = (data_root / "exports" / "canary" / "fused_vectors.jsonl").read_text()
    assert MARKERS[0] in exported  # the data export itself does hold the text


def serialize_span(span: Any) -> str:
    return span.to_json()


def test_model_errors_never_echo_the_text() -> None:
    secret = "zqxsecretbatchtext"

    def encode(a: int, b: int) -> None:
        raise ValueError(f"cannot tokenize {secret!r}")

    with pytest.raises(EncodingError) as err:
        AdaptiveBatcher("dense", "cpu", 4).run(0, 8, encode)
    assert secret not in str(err.value) and err.value.__cause__ is None and err.value.__suppress_context__
