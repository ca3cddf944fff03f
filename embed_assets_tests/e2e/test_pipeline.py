"""End to end on real models and a real temporary Dagster instance."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import jsonschema
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from embed_assets.core.manifest.compat import project
from embed_assets.core.manifest.schemas import committed_schema
from embed_assets.core.storage.arrow import vectors_from_column
from embed_assets.core.storage.hashing import file_sha256
from embed_assets.defs.config import SPARSE_CLI_TAG
from embed_assets.defs.resources import QualityGatesResource
from embed_assets.resources import DenseModelConfig, ModelManagerResource

from ..helpers import REPO, checks, materialize_collection, materialized, read_manifest

pytestmark = pytest.mark.slow
ALL = {"chunks", "dense_embeddings", "sparse_vectors", "fused_vectors", "processing_summary", "vector_index"}


def _same_shape(small: Any, big: Any, path: str = "") -> list[str]:
    """Paths where ``big`` lacks a key of ``small`` or holds another JSON type."""
    def kind(v: Any) -> str:
        return "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__

    if small is None or big is None:
        return []
    if kind(small) != kind(big):
        return [f"{path}: {kind(small)} -> {kind(big)}"]
    out: list[str] = []
    if isinstance(small, dict):
        for k, v in small.items():
            out += [f"{path}.{k}: missing"] if k not in big else _same_shape(v, big[k], f"{path}.{k}")
    elif isinstance(small, list) and small and big:
        out += _same_shape(small[0], big[0], f"{path}[]")
    return out


def test_sparse_on_then_off_manifests_and_exports(instance: dg.DagsterInstance, data_root: Path) -> None:
    on = materialize_collection(instance, data_root, "retrieval-handbook")
    assert on.success and materialized(on) == ALL and all(checks(on).values()) and len(checks(on)) == 10
    m41 = read_manifest(data_root, "retrieval-handbook")
    export_dir = data_root / "exports" / "retrieval-handbook"
    fused_on = pd.read_parquet(export_dir / "fused_vectors.parquet")

    off = materialize_collection(instance, data_root, "retrieval-handbook", tags={SPARSE_CLI_TAG: "disable"})
    assert off.success and all(checks(off).values())
    m40 = read_manifest(data_root, "retrieval-handbook")
    fused_off = pd.read_parquet(export_dir / "fused_vectors.parquet")

    assert (m41["schema_version"], m40["schema_version"]) == ("4.1", "4.0")
    assert m40["activation"]["sparse"] == {"enabled": False, "decided_by": "cli",
                                           "requested": {"cli": False, "run_config": None, "environment": None,
                                                         "default": True}}
    assert m41["activation"]["sparse"]["decided_by"] == "default"
    # 4.1 is a strict superset of 4.0: same keys, same types, plus the sparse sections.
    assert _same_shape(m40, m41) == []
    assert set(m41) - set(m40) == {"sparse_run"} and set(m41["stages"]) - set(m40["stages"]) == {"sparse"}
    assert "sparse_run" not in m40 and "sparse" not in m40["stages"]
    # A reader built only from the 4.0 schema loads the 4.1 manifest.
    schema40 = committed_schema("4.0")
    jsonschema.validate(m41, schema40)
    seen_by_40_reader = project(m41, schema40)
    assert set(seen_by_40_reader) == set(m40) and "sparse_run" not in seen_by_40_reader
    assert seen_by_40_reader["stages"]["chunks"] == m41["stages"]["chunks"]
    # Exports: same chunks and dense vectors, sparse columns only when sparse ran.
    assert fused_on["chunk_id"].tolist() == fused_off["chunk_id"].tolist()
    assert np.allclose(np.stack(fused_on["dense"]), np.stack(fused_off["dense"]), atol=1e-6)
    assert {"sparse_indices", "sparse_values", "sparse_source"} <= set(fused_on.columns)
    assert not {"sparse_indices", "sparse_values"} & set(fused_off.columns)
    assert set(fused_on["fusion_mode"]) == {"hybrid"} and set(fused_off["fusion_mode"]) == {"dense_only"}
    for entry in m40["exports"]:
        path = export_dir / entry["path"]
        assert file_sha256(path) == entry["sha256"] and entry["rows"] == len(fused_off)
    jsonl = [json.loads(line) for line in (export_dir / "fused_vectors.jsonl").read_text().splitlines()]
    assert [r["chunk_id"] for r in jsonl] == fused_off["chunk_id"].tolist()
    # The sparse_run section: bounded sample, totals, and no query text.
    run = m41["sparse_run"]
    assert len(run["document_sparse_vectors"]) <= 5 and run["document_sparse_vectors_total"] == len(fused_on)
    assert run["query_sparse_vector"] and set(run["query"]) == {"sha256", "length"}
    # Stored outputs between assets are Parquet, readable by pandas.
    for asset in ALL:
        stored = data_root / "storage" / asset / "retrieval-handbook.parquet"
        assert len(pd.read_parquet(stored)) >= 0


def test_run_config_and_environment_decide_when_no_flag(instance: dg.DagsterInstance, data_root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_ASSETS_SPARSE", "0")
    res = materialize_collection(instance, data_root, "ops-faq")
    assert res.success and read_manifest(data_root, "ops-faq")["activation"]["sparse"]["decided_by"] == "environment"
    res = materialize_collection(instance, data_root, "ops-faq",
                                 run_config={"ops": {"sparse_vectors": {"config": {"enable_sparse": True}}}})
    m = read_manifest(data_root, "ops-faq")
    assert res.success and m["schema_version"] == "4.1" and m["activation"]["sparse"]["decided_by"] == "run_config"


def test_a_failing_blocking_check_stops_downstream_and_keeps_the_last_good_export(
        instance: dg.DagsterInstance, data_root: Path) -> None:
    good = materialize_collection(instance, data_root, "ops-faq")
    assert good.success
    before = os.readlink(data_root / "exports" / "ops-faq")
    index_before = os.readlink(data_root / "index" / "ops-faq" / "CURRENT")
    bad = materialize_collection(
        instance, data_root, "ops-faq",
        model_manager=ModelManagerResource(sparse_model=str(data_root / "no-such-model")),
        gates=QualityGatesResource(max_fallback_ratio=0.0, strict_sparse=True),
    )
    assert not bad.success
    assert checks(bad)["sparse_coverage_and_fallback"] is False
    assert materialized(bad) == {"chunks", "dense_embeddings", "sparse_vectors"}
    assert os.readlink(data_root / "exports" / "ops-faq") == before
    assert os.readlink(data_root / "index" / "ops-faq" / "CURRENT") == index_before


def test_unavailable_sparse_model_falls_back_to_metadata_vectors(instance: dg.DagsterInstance,
                                                                 data_root: Path) -> None:
    # The default gates: the fallback vectors are published and the check warns.
    res = materialize_collection(
        instance, data_root, "ops-faq",
        model_manager=ModelManagerResource(sparse_model=str(data_root / "no-such-model")),
    )
    assert res.success and res.ok and checks(res)["sparse_coverage_and_fallback"] is False
    assert "fallback ratio 1.000 > 0.5" in res.warnings["sparse_coverage_and_fallback"]
    m = read_manifest(data_root, "ops-faq")
    sparse = m["stages"]["sparse"]
    assert sparse["fallback_used"] and m["sparse_run"]["fallback_used"]
    assert sparse["source_counts"] == {"model-gpu": 0, "model-cpu": 0, "metadata": sparse["count"]}
    assert "unavailable" in sparse["fallback_reason"] and sparse["coverage"] == 1.0
    assert m["activation"]["features"]["sparse_fallback"] is True
    fused = pq.read_table(data_root / "exports" / "ops-faq" / "fused_vectors.parquet")
    assert set(fused.column("sparse_source").to_pylist()) == {"metadata"}


def test_bad_inputs_finish_with_every_document_accounted_for(instance: dg.DagsterInstance, data_root: Path) -> None:
    res = materialize_collection(instance, data_root, "messy-inputs")
    assert res.success
    docs = read_manifest(data_root, "messy-inputs")["stages"]["chunks"]["documents"]
    assert docs["seen"] == docs["embedded"] + docs["skipped"]
    assert docs["skipped_by_reason"] == {"binary": 1, "duplicate_id": 1, "empty": 2, "invalid_json": 1,
                                         "missing_id": 1, "unsupported_type": 1}
    assert docs["decoded_with_replacement"] == 1 and docs["embedded"] == 3


def test_an_ensemble_of_two_models(instance: dg.DagsterInstance, data_root: Path) -> None:
    manager = ModelManagerResource(dense_models=[DenseModelConfig(ref="all-MiniLM-L6-v2", weight=1.0),
                                                 DenseModelConfig(ref="splade-tiny", weight=0.5)])
    res = materialize_collection(instance, data_root, "retrieval-handbook", model_manager=manager,
                                 tags={SPARSE_CLI_TAG: "disable"})
    assert res.success and checks(res)["embedding_sanity"]
    dense = read_manifest(data_root, "retrieval-handbook")["stages"]["dense"]
    assert dense["dim"] == 384 + 128 and [m["dim"] for m in dense["models"]] == [384, 128]
    assert all(len(m["weights_sha256"]) == 64 for m in dense["models"])
    stored = pq.read_table(data_root / "storage" / "dense_embeddings" / "retrieval-handbook.parquet")
    ens = vectors_from_column(stored.column("dense"))
    a = vectors_from_column(stored.column("dense__all_minilm_l6_v2"))
    b = vectors_from_column(stored.column("dense__splade_tiny"))
    assert np.allclose(ens @ ens.T, (a @ a.T + 0.5 * (b @ b.T)) / 1.5, atol=1e-5)


def test_cli_runs_end_to_end_and_reports(tmp_path: Path, data_root: Path) -> None:
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    (tmp_path / "home").mkdir()
    cli = [sys.executable, "-m", "embed_assets.cli", "run", "--data-root", str(data_root)]
    done = subprocess.run([*cli, "--collection", "ops-faq", "--disable-sparse"], env=env, capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sparse     off (decided by cli)" in done.stdout and "checks     10 passed" in done.stdout
    assert "   index      edge ops-faq version 1" in done.stdout
    assert "registered 3 new partition(s)" in done.stderr
    assert (data_root / "exports" / "ops-faq" / "processing_summary.json").is_file()
    refused = subprocess.run([*cli, "--collection", "../etc"], env=env, capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 2 and "unsafe collection name" in refused.stderr
    # The run is on the instance the UI would read.
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as inst:
        assert inst.get_runs_count() == 1


def test_reruns_encode_only_new_or_changed_chunks(instance: dg.DagsterInstance, data_root: Path) -> None:
    folder = data_root / "collections" / "incremental"
    folder.mkdir()
    for i in range(6):
        (folder / f"doc{i}.txt").write_text(f"Document {i} talks about topic {i * 7} in a few words.")
    (folder / "copy.txt").write_text("Document 0 talks about topic 0 in a few words.")  # same text as doc0
    first = materialize_collection(instance, data_root, "incremental")
    m = read_manifest(data_root, "incremental")["stages"]
    assert first.success and (m["dense"]["count"], m["dense"]["unique_chunks"], m["dense"]["encoded"]) == (7, 6, 6)
    assert m["sparse"]["encoded"] == 6

    assert materialize_collection(instance, data_root, "incremental").success
    m = read_manifest(data_root, "incremental")["stages"]
    assert (m["dense"]["encoded"], m["sparse"]["encoded"]) == (0, 0)

    (folder / "doc1.txt").write_text("Document 1 now says something else entirely.")
    (folder / "doc5.txt").unlink()
    before = pd.read_parquet(data_root / "exports" / "incremental" / "fused_vectors.parquet")
    assert materialize_collection(instance, data_root, "incremental").success
    m = read_manifest(data_root, "incremental")["stages"]
    assert (m["dense"]["encoded"], m["sparse"]["encoded"], m["dense"]["count"]) == (1, 1, 6)
    after = pd.read_parquet(data_root / "exports" / "incremental" / "fused_vectors.parquet")
    assert "doc5.txt" not in set(after["doc_id"]) and "doc5.txt" in set(before["doc_id"])
    unchanged = after[after["doc_id"] == "doc2.txt"].iloc[0]
    old = before[before["doc_id"] == "doc2.txt"].iloc[0]
    assert np.allclose(unchanged["dense"], old["dense"]) and list(unchanged["sparse_values"]) == list(old["sparse_values"])
