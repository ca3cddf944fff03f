"""Each asset called directly (``dg.build_asset_context``), in graph order, on a bundled
collection: the typed envelope each one writes is what the next one reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from embed_assets.core.manifest.envelopes import (
    ChunksEnvelope,
    DenseEnvelope,
    FusionEnvelope,
    SparseEnvelope,
    read_any_envelope,
    read_envelope,
)
from embed_assets.defs.assets import chunks, dense_embeddings, fused_vectors, processing_summary, sparse_vectors
from embed_assets.defs.config import SPARSE_CLI_TAG, ChunksConfig, FusionConfig, SparseConfig
from embed_assets.defs.resources import FeaturesResource, PathsResource, QualityGatesResource
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


def _table(output: dg.Output) -> pa.Table:
    assert isinstance(output.value, pa.Table)
    return output.value


@pytest.fixture(scope="module")
def outputs(paths: PathsResource) -> dict[str, dg.Output]:
    manager, gpu = ModelManagerResource(), GpuLeaseResource(device="cpu")
    out: dict[str, dg.Output] = {}
    out["chunks"] = chunks(_context(), config=ChunksConfig(), paths=paths, model_manager=manager)
    table = _table(out["chunks"])
    out["dense"] = dense_embeddings(_context(), chunks=table, gpu=gpu, model_manager=manager, paths=paths)
    out["sparse"] = sparse_vectors(_context(), config=SparseConfig(enable_lexical=True), chunks=table, gpu=gpu,
                                   model_manager=manager, paths=paths, features=FeaturesResource())
    out["fused"] = fused_vectors(_context(), config=FusionConfig(alpha=0.7), chunks=table,
                                 dense_embeddings=_table(out["dense"]), sparse_vectors=_table(out["sparse"]))
    return out


def test_chunks_writes_records_and_their_accounting(outputs: dict[str, dg.Output]) -> None:
    table = _table(outputs["chunks"])
    envelope = read_envelope(table.schema, ChunksEnvelope)
    assert table.num_rows == envelope.stage.count > 0
    assert outputs["chunks"].metadata["documents_seen"].value == envelope.stage.documents.seen


def test_dense_embeddings_match_the_chunks(outputs: dict[str, dg.Output]) -> None:
    table, chunk_ids = _table(outputs["dense"]), _table(outputs["chunks"]).column("chunk_id")
    envelope = read_envelope(table.schema, DenseEnvelope)
    assert table.column("chunk_id").equals(chunk_ids) and envelope.stage.dim == 384
    assert table.schema.field("dense").type.list_size == 384 and envelope.stage.devices == ["cpu"]


def test_sparse_vectors_with_lexical_columns(outputs: dict[str, dg.Output]) -> None:
    table = _table(outputs["sparse"])
    envelope = read_envelope(table.schema, SparseEnvelope)
    assert envelope.enabled and envelope.stage is not None and envelope.stage.lexical is not None
    assert {"sparse_indices", "lexical_indices"} <= set(table.column_names)
    assert envelope.decision.decided_by == "default"


def test_sparse_vectors_off_by_the_cli_tag(paths: PathsResource, outputs: dict[str, dg.Output]) -> None:
    out = sparse_vectors(_context(**{SPARSE_CLI_TAG: "disable"}), config=SparseConfig(),
                         chunks=_table(outputs["chunks"]), gpu=GpuLeaseResource(device="cpu"),
                         model_manager=ModelManagerResource(), paths=paths, features=FeaturesResource(sparse=True))
    envelope = read_envelope(_table(out).schema, SparseEnvelope)
    assert _table(out).num_rows == 0 and (envelope.enabled, envelope.decision.decided_by) == (False, "cli")


def test_fused_vectors_carry_the_fusion_parameters(outputs: dict[str, dg.Output]) -> None:
    table = _table(outputs["fused"])
    envelope = read_envelope(table.schema, FusionEnvelope)
    assert envelope.sparse_enabled and envelope.stage.alpha == pytest.approx(0.7)
    assert set(table.column("fusion_mode").to_pylist()) == {"hybrid"}


def test_fused_vectors_refuses_rows_of_another_chunks_version(outputs: dict[str, dg.Output]) -> None:
    chunks_table = _table(outputs["chunks"])
    with pytest.raises(dg.Failure, match="do not match chunks"):
        fused_vectors(_context(), config=FusionConfig(), chunks=chunks_table.slice(1),
                      dense_embeddings=_table(outputs["dense"]), sparse_vectors=_table(outputs["sparse"]))


def test_processing_summary_publishes_a_41_manifest(outputs: dict[str, dg.Output], paths: PathsResource,
                                                    instance: dg.DagsterInstance) -> None:
    envelopes = {name: read_any_envelope(_table(outputs[name]).schema) for name in ("chunks", "dense", "sparse")}
    out = processing_summary(_context(instance), fused_vectors=_table(outputs["fused"]),
                             chunks_stage=envelopes["chunks"], dense_stage=envelopes["dense"],
                             sparse_stage=envelopes["sparse"], paths=paths, gpu=GpuLeaseResource(device="cpu"),
                             model_manager=ModelManagerResource(), gates=QualityGatesResource())
    summary = _table(out)
    assert summary.column("schema_version").to_pylist() == ["4.1"]
    assert (Path(paths.exports) / COLLECTION / "processing_summary.json").is_file()


def test_every_column_of_every_asset_has_a_description(outputs: dict[str, dg.Output]) -> None:
    for name, output in outputs.items():
        schema = output.metadata["dagster/column_schema"].schema
        undescribed = [c.name for c in schema.columns if not c.description]
        assert undescribed == [], f"{name}: {undescribed}"
