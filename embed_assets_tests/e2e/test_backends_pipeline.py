"""Encoder backends end to end: real exported graphs in a real Dagster run, the embedding
cache and the manifest keyed by backend, the blocking quality guard, queries encoded on
the collection's backend, and ``eval`` on the backend the environment names."""

import json
import os
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from embed_assets.cli import main
from embed_assets.core.encode.backends.ort_encoders import OnnxDenseModel, OnnxSparseModel
from embed_assets.core.encode.vectors import rows_to_sparse
from embed_assets.core.index.encoder import query_encoder as index_query_encoder
from embed_assets.core.index.state import QueryEncoding
from embed_assets.core.retrieval.query import recorded_backends
from embed_assets.core.storage.arrow import vectors_from_column
from embed_assets.defs.resources import QualityGatesResource
from embed_assets.eval_sets import build
from embed_assets.resources import ModelManagerResource

from ..helpers import checks, materialize_collection, materialized, read_manifest

pytestmark = pytest.mark.slow
COLLECTION = "ops-faq"


def _run(instance: dg.DagsterInstance, data_root: Path, **manager: str) -> dict:
    outcome = materialize_collection(instance, data_root, COLLECTION, model_manager=ModelManagerResource(**manager))
    assert outcome.success, outcome
    assert checks(outcome)["dense_backend_agreement"] and checks(outcome)["sparse_backend_agreement"]
    assert checks(outcome)["manifest_additive_compatibility"]  # switching backend only adds and fills fields
    return read_manifest(data_root, COLLECTION)


def _dense(data_root: Path) -> np.ndarray:
    return vectors_from_column(pq.read_table(data_root / "exports" / COLLECTION / "fused_vectors.parquet",
                                             columns=["dense"]).column("dense"))


def _encoded(m: dict) -> tuple[int, int]:
    return m["stages"]["dense"]["encoded"], m["stages"]["sparse"]["encoded"]


def test_switching_backend_re_encodes_switching_back_reuses_and_the_manifest_records_it(
        instance: dg.DagsterInstance, data_root: Path) -> None:
    first = _run(instance, data_root, encoder_backend="onnx")
    unique = first["stages"]["dense"]["unique_chunks"]
    dense_entry, sparse_entry = first["stages"]["dense"]["models"][0], first["stages"]["sparse"]["model"]
    assert dense_entry["backend"]["name"] == sparse_entry["backend"]["name"] == "onnx"
    assert dense_entry["backend"]["precision"] == "fp32" and dense_entry["probe"]["passed"] is True
    assert _encoded(first) == (unique, unique)
    onnx_vectors = _dense(data_root)

    int8 = _run(instance, data_root)  # the default backend
    assert _encoded(int8) == (unique, unique)  # another backend's vectors: encoded again
    backend = int8["stages"]["dense"]["models"][0]["backend"]
    assert (backend["name"], backend["precision"], backend["max_batch"]) == ("onnx-int8", "int8", 1)
    assert backend["quantization"]["per_channel"] is True and backend["quantization"]["weight_type"] == "QInt8"
    assert int8["stages"]["sparse"]["model"]["backend"]["name"] == "onnx-int8"
    int8_vectors = _dense(data_root)
    cosine = (int8_vectors * onnx_vectors).sum(axis=1)
    assert cosine.min() >= 0.98 and not np.array_equal(int8_vectors, onnx_vectors)

    back = _run(instance, data_root, encoder_backend="onnx")
    assert _encoded(back) == (0, 0)  # the fp32 vectors are still in the cache
    assert np.array_equal(_dense(data_root), onnx_vectors)

    mixed = _run(instance, data_root, dense_backend="torch", sparse_backend="onnx-int8")
    assert _encoded(mixed) == (unique, 0)
    assert mixed["stages"]["dense"]["models"][0]["backend"]["name"] == "torch"
    assert mixed["stages"]["dense"]["models"][0]["probe"] is None  # torch is the reference
    names = sorted(p.name for p in (data_root / "cache" / COLLECTION).glob("*.parquet"))
    fingerprint = dense_entry["weights_sha256"][:24]
    assert f"dense-{fingerprint}.parquet" in names  # torch keeps the cache files it always had
    assert sum(n.startswith(f"dense-{fingerprint}-onnx-int8-") for n in names) == 1
    assert sum(n.startswith(f"dense-{fingerprint}-onnx-") and "int8" not in n for n in names) == 1


def test_a_backend_past_the_tolerance_blocks_the_run_and_publishes_nothing(
        instance: dg.DagsterInstance, data_root: Path) -> None:
    outcome = materialize_collection(instance, data_root, COLLECTION,
                                     model_manager=ModelManagerResource(encoder_backend="onnx-int8"),
                                     gates=QualityGatesResource(backend_min_cosine=0.9999))
    assert not outcome.success
    assert checks(outcome)["dense_backend_agreement"] is False
    assert materialized(outcome) == {"chunks", "dense_embeddings"}
    assert not (data_root / "exports" / COLLECTION).exists()


def test_queries_are_encoded_on_the_backend_the_collection_was_built_with(
        instance: dg.DagsterInstance, data_root: Path) -> None:
    manifest = _run(instance, data_root, encoder_backend="onnx-int8")
    dense_backends, sparse_backend = recorded_backends(manifest)
    assert (dense_backends, sparse_backend) == (["onnx-int8"], "onnx-int8")
    encoder = ModelManagerResource(encoder_backend="torch").query_encoder(dense_backends, sparse_backend)
    assert isinstance(encoder.dense_models[0], OnnxDenseModel) and encoder.dense_models[0].max_batch == 1
    assert isinstance(encoder.splade, OnnxSparseModel) and encoder.splade.max_batch == 1
    table = pq.read_table(data_root / "exports" / COLLECTION / "fused_vectors.parquet")
    text = table.column("text")[0].as_py()
    query = encoder.dense([text])[0]
    stored = vectors_from_column(table.column("dense"))[0]
    assert float(query @ stored) >= 0.99999  # int8 is batch-invariant: the chunk's own vector, as a query
    splade = encoder.splade_vectors([text])
    want = rows_to_sparse(encoder.splade.encode([text]))[0]
    assert sorted(splade.indices.tolist()) == want.indices == table.column("sparse_indices")[0].as_py()
    # the vector index records the backends too, and encodes its queries on them
    encoding = QueryEncoding.from_manifest(manifest)
    assert [m.backend for m in encoding.dense_models] == ["onnx-int8"] and encoding.sparse_model.backend == "onnx-int8"
    from_index = index_query_encoder(encoding)
    assert isinstance(from_index.dense_models[0], OnnxDenseModel) and from_index.dense_models[0].max_batch == 1
    assert float(from_index.dense([text])[0] @ stored) >= 0.99999


def test_eval_measures_the_backend_the_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    beir = tmp_path / "pydocs-tiny"
    build(beir, ["json", "textwrap", "heapq", "bisect"], max_queries=12)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    results = {}
    for backend in ("onnx", "onnx-int8"):
        monkeypatch.setenv("EMBED_ASSETS_ENCODER_BACKEND", backend)
        assert main(["eval", "--beir", str(beir), "--data-root", str(tmp_path / "data")]) == 0
        out = capsys.readouterr()
        assert "materializing" in out.err  # a backend change is never served from the other's export
        line = json.loads(out.out.strip().splitlines()[-1])
        assert line["backends"] == {"dense": [backend], "sparse": backend}
        results[backend] = line["ndcg@10"]
    manifest = read_manifest(tmp_path / "data", beir.name)
    assert manifest["stages"]["dense"]["models"][0]["backend"]["requested"] == "onnx-int8"
    assert abs(results["onnx"]["dense"] - results["onnx-int8"]["dense"]) <= 0.1
    assert os.environ["EMBED_ASSETS_ENCODER_BACKEND"] == "onnx-int8"
