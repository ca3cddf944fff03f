"""Each asset (and each step of the sharded ones) called directly, in graph order, on a
bundled collection: the typed envelope each one writes is what the next one reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from embed_assets.core.encode.shards import ShardSpec
from embed_assets.core.manifest.envelopes import (
    ChunksEnvelope,
    DenseEnvelope,
    DenseShardEnvelope,
    FusionEnvelope,
    SparseEnvelope,
    read_any_envelope,
    read_envelope,
)
from embed_assets.core.manifest.models import ToggleDecision
from embed_assets.defs.assets import chunks, fused_vectors, processing_summary, vector_index
from embed_assets.defs.assets.dense_embeddings import dense_merge, dense_plan, dense_shard
from embed_assets.defs.assets.sparse_vectors import sparse_merge, sparse_plan, sparse_shard
from embed_assets.defs.checks import vector_index_matches_export
from embed_assets.defs.config import (
    SHARDS_TAG,
    SPARSE_CLI_TAG,
    ChunksConfig,
    FusionConfig,
    ShardsConfig,
    SparseMergeConfig,
    SparsePlanConfig,
)
from embed_assets.defs.resources import FeaturesResource, PathsResource, QualityGatesResource, VectorIndexResource
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

COLLECTION = "ops-faq"


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> PathsResource:
    import shutil

    from ...helpers import SAMPLES

    root = tmp_path_factory.mktemp("assets") / "data"
    shutil.copytree(SAMPLES / COLLECTION, root / "collections" / COLLECTION)
    return PathsResource(data_root=str(root))


def _context(instance: dg.DagsterInstance | None = None, **tags: str) -> Any:
    return dg.build_asset_context(partition_key=COLLECTION, instance=instance, run_tags=tags)


def _op_context(instance: dg.DagsterInstance | None = None, **tags: str) -> Any:
    return dg.build_op_context(partition_key=COLLECTION, instance=instance, run_tags=tags)


def _table(output: dg.Output) -> pa.Table:
    assert isinstance(output.value, pa.Table)
    return output.value


def _plan(generator: Any) -> list[ShardSpec]:
    return [o.value for o in generator if isinstance(o, dg.DynamicOutput)]


@pytest.fixture(scope="module")
def outputs(paths: PathsResource) -> dict[str, Any]:
    manager, gpu, features = ModelManagerResource(), GpuLeaseResource(device="cpu"), FeaturesResource()
    out: dict[str, Any] = {}
    # Every context gets the instance: a context built without one enters an ephemeral instance
    # that it leaves only when garbage collected, which would restore this one after it is gone.
    with dg.instance_for_test() as instance:
        out["chunks"] = chunks(_context(instance), config=ChunksConfig(), paths=paths, model_manager=manager)
        table = _table(out["chunks"])
        out["dense_plan"] = _plan(dense_plan(_op_context(instance), config=ShardsConfig(shards=2), chunks=table,
                                             features=features))
        out["dense_shards"] = [dense_shard(_op_context(instance), chunks=table, shard=s, gpu=gpu, model_manager=manager,
                                           paths=paths) for s in out["dense_plan"]]
        out["dense"] = dense_merge(_op_context(instance), chunks=table, shards=[_table(o) for o in out["dense_shards"]],
                                   paths=paths, model_manager=manager)
        plan = list(sparse_plan(_op_context(instance), config=SparsePlanConfig(), chunks=table,
                                dense_embeddings=read_any_envelope(_table(out["dense"]).schema), features=features))
        shards = [o.value for o in plan if isinstance(o, dg.DynamicOutput)]
        (decision,) = [o.value for o in plan if not isinstance(o, dg.DynamicOutput)]
        parts = [sparse_shard(_op_context(instance), chunks=table, shard=s, gpu=gpu, model_manager=manager,
                              paths=paths) for s in shards]
        out["sparse"] = sparse_merge(_op_context(instance), config=SparseMergeConfig(enable_lexical=True), chunks=table,
                                     decision=decision, shards=[_table(p) for p in parts], model_manager=manager,
                                     paths=paths, features=features)
        out["fused"] = fused_vectors(_context(instance), config=FusionConfig(alpha=0.7), chunks=table,
                                     dense_embeddings=_table(out["dense"]), sparse_vectors=_table(out["sparse"]))
    return out


def test_chunks_writes_records_and_their_accounting(outputs: dict[str, Any]) -> None:
    table = _table(outputs["chunks"])
    envelope = read_envelope(table.schema, ChunksEnvelope)
    assert table.num_rows == envelope.stage.count > 0
    assert outputs["chunks"].metadata["documents_seen"].value == envelope.stage.documents.seen


def test_dense_embeddings_match_the_chunks(outputs: dict[str, Any]) -> None:
    table, chunk_ids = _table(outputs["dense"]), _table(outputs["chunks"]).column("chunk_id")
    envelope = read_envelope(table.schema, DenseEnvelope)
    assert table.column("chunk_id").equals(chunk_ids) and envelope.stage.dim == 384
    assert table.schema.field("dense").type.list_size == 384 and envelope.stage.devices == ["cpu"]
    assert envelope.stage.shards == 2 and envelope.lineage == read_envelope(_table(outputs["chunks"]).schema,
                                                                            ChunksEnvelope).lineage


def test_the_dense_plan_tiles_the_distinct_chunks(outputs: dict[str, Any]) -> None:
    plan = outputs["dense_plan"]
    assert [(s.index, s.count) for s in plan] == [(0, 2), (1, 2)]
    assert plan[0].start == 0 and plan[0].stop == plan[1].start and plan[1].stop == plan[1].unique_total
    for spec, out in zip(plan, outputs["dense_shards"]):
        shard = read_envelope(_table(out).schema, DenseShardEnvelope)
        assert shard.shard == spec and _table(out).num_rows == spec.size
        assert out.metadata["shard"].value == f"{spec.index + 1} of 2" and "model_loads" in out.metadata


def test_a_shard_tag_ranks_above_run_config(paths: PathsResource, outputs: dict[str, Any]) -> None:
    table = _table(outputs["chunks"])
    plan = _plan(dense_plan(_op_context(**{SHARDS_TAG: "3"}), config=ShardsConfig(shards=2), chunks=table,
                            features=FeaturesResource(shards=5)))
    assert len(plan) == 3
    assert len(_plan(dense_plan(_op_context(), config=ShardsConfig(), chunks=table,
                                features=FeaturesResource(shards=5)))) == 5
    with pytest.raises(dg.Failure, match="not a shard count"):
        _plan(dense_plan(_op_context(**{SHARDS_TAG: "zero"}), config=ShardsConfig(), chunks=table,
                         features=FeaturesResource()))


def test_a_merge_refuses_an_incomplete_set_of_shards(paths: PathsResource, outputs: dict[str, Any]) -> None:
    with dg.instance_for_test() as instance, pytest.raises(dg.Failure, match="cover"):
        dense_merge(_op_context(instance), chunks=_table(outputs["chunks"]), shards=[_table(outputs["dense_shards"][0])],
                    paths=paths, model_manager=ModelManagerResource())


def test_sparse_vectors_with_lexical_columns(outputs: dict[str, Any]) -> None:
    table = _table(outputs["sparse"])
    envelope = read_envelope(table.schema, SparseEnvelope)
    assert envelope.enabled and envelope.stage is not None and envelope.stage.lexical is not None
    assert {"sparse_indices", "lexical_indices"} <= set(table.column_names)
    assert envelope.decision.decided_by == "default"


def test_sparse_vectors_off_by_the_cli_tag(paths: PathsResource, outputs: dict[str, Any]) -> None:
    table = _table(outputs["chunks"])
    plan = list(sparse_plan(_op_context(**{SPARSE_CLI_TAG: "disable"}), config=SparsePlanConfig(), chunks=table,
                            dense_embeddings=read_any_envelope(_table(outputs["dense"]).schema),
                            features=FeaturesResource(sparse=True)))
    assert len(plan) == 1 and isinstance(plan[0].value, ToggleDecision)
    with dg.instance_for_test() as instance:
        out = sparse_merge(_op_context(instance), config=SparseMergeConfig(), chunks=table, decision=plan[0].value,
                           shards=[], model_manager=ModelManagerResource(), paths=paths, features=FeaturesResource())
    envelope = read_envelope(_table(out).schema, SparseEnvelope)
    assert _table(out).num_rows == 0 and (envelope.enabled, envelope.decision.decided_by) == (False, "cli")


def test_fused_vectors_carry_the_fusion_parameters(outputs: dict[str, Any]) -> None:
    table = _table(outputs["fused"])
    envelope = read_envelope(table.schema, FusionEnvelope)
    assert envelope.sparse_enabled and envelope.stage.alpha == pytest.approx(0.7)
    assert set(table.column("fusion_mode").to_pylist()) == {"hybrid"}


def test_fused_vectors_refuses_rows_of_another_chunks_version(outputs: dict[str, Any]) -> None:
    chunks_table = _table(outputs["chunks"])
    with pytest.raises(dg.Failure, match="do not match chunks"):
        fused_vectors(_context(), config=FusionConfig(), chunks=chunks_table.slice(1),
                      dense_embeddings=_table(outputs["dense"]), sparse_vectors=_table(outputs["sparse"]))


def test_processing_summary_publishes_a_41_manifest(outputs: dict[str, Any], paths: PathsResource,
                                                    instance: dg.DagsterInstance) -> None:
    envelopes = {name: read_any_envelope(_table(outputs[name]).schema) for name in ("chunks", "dense", "sparse")}
    out = processing_summary(_context(instance), fused_vectors=_table(outputs["fused"]),
                             chunks_stage=envelopes["chunks"], dense_stage=envelopes["dense"],
                             sparse_stage=envelopes["sparse"], paths=paths, gpu=GpuLeaseResource(device="cpu"),
                             model_manager=ModelManagerResource(), gates=QualityGatesResource())
    summary = _table(out)
    assert summary.column("schema_version").to_pylist() == ["4.1"]
    assert (Path(paths.exports) / COLLECTION / "processing_summary.json").is_file()


def test_every_column_of_every_asset_has_a_description(outputs: dict[str, Any]) -> None:
    described = {name: o for name, o in outputs.items()
                 if isinstance(o, dg.Output) and "dagster/column_schema" in (o.metadata or {})}
    assert {"chunks", "dense", "sparse", "fused"} <= set(described)
    for name, output in described.items():
        schema = output.metadata["dagster/column_schema"].schema
        undescribed = [c.name for c in schema.columns if not c.description]
        assert undescribed == [], f"{name}: {undescribed}"


def test_vector_index_indexes_the_published_export_and_its_check_passes(
        outputs: dict[str, dg.Output], paths: PathsResource, instance: dg.DagsterInstance) -> None:
    envelopes = {name: read_any_envelope(_table(outputs[name]).schema) for name in ("chunks", "dense", "sparse")}
    summary = _table(processing_summary(
        _context(instance), fused_vectors=_table(outputs["fused"]), chunks_stage=envelopes["chunks"],
        dense_stage=envelopes["dense"], sparse_stage=envelopes["sparse"], paths=paths,
        gpu=GpuLeaseResource(device="cpu"), model_manager=ModelManagerResource(), gates=QualityGatesResource()))
    index = VectorIndexResource(index_root=str(paths.root / "index"))
    out = vector_index(_context(instance), processing_summary=summary, paths=paths, index=index)
    rows = _table(outputs["fused"]).num_rows
    assert out.metadata["points"].value == rows and out.metadata["backend"].value == "edge"
    assert {"location", "collection_name", "upserted", "deleted", "latency_ms"} <= set(out.metadata)
    check = vector_index_matches_export(vector_index=_table(out), processing_summary=summary, paths=paths,
                                        index=index)
    assert check.passed and check.metadata["points"].value == rows
