"""OOM and VRAM pressure through the whole pipeline on the simulated GPU: batches halve
down to 4, then the CPU, then (sparse) metadata vectors — and the vectors equal a
fault-free run, with every chunk encoded exactly once."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from embed_assets.core.storage.arrow import vectors_from_column
from embed_assets.defs.resources import QualityGatesResource
from embed_assets.resources import GpuLeaseResource, ModelManagerResource

from ..helpers import materialize_collection, read_manifest

pytestmark = pytest.mark.slow
COLLECTION = "pressure"
TOPICS = ["retrieval", "vectors", "tokenizers", "batching", "memory", "fallback", "manifests", "exports"]


def _write_collection(root: Path) -> None:
    folder = root / "collections" / COLLECTION
    folder.mkdir(parents=True)
    for i in range(48):
        topic = TOPICS[i % len(TOPICS)]
        words = " ".join(f"{topic}{j}" for j in range(i % 7 * 6))  # skewed lengths
        (folder / f"doc-{i:02d}.txt").write_text(f"Note {i} on {topic}. {words} The end of note {i}.")


def _manager(**kwargs: Any) -> ModelManagerResource:
    """Fixed batch sizes (no token budget) and no cache: every run encodes every chunk."""
    return ModelManagerResource(dense_token_budget=None, sparse_token_budget=None, reuse_cached_vectors=False,
                                **kwargs)


def _run(instance: dg.DagsterInstance, root: Path, *, sim: str | None, dense_batch: int = 32,
         sparse_batch: int = 16, sparse_on_gpu: bool = False, **resources: Any) -> dict[str, Any]:
    gpu = GpuLeaseResource(simulated=sim, ledger_dir=str(root / "leases")) if sim else GpuLeaseResource(device="cpu")
    result = materialize_collection(
        instance, root, COLLECTION, gpu=gpu,
        model_manager=_manager(dense_batch_size=dense_batch, sparse_batch_size=sparse_batch,
                               sparse_on_gpu=sparse_on_gpu), **resources)
    assert result.success
    storage = root / "storage"
    dense = pq.read_table(storage / "dense_embeddings" / f"{COLLECTION}.parquet")
    sparse = pq.read_table(storage / "sparse_vectors" / f"{COLLECTION}.parquet")
    return {
        "manifest": read_manifest(root, COLLECTION),
        "ids": dense.column("chunk_id").to_pylist(),
        "dense": vectors_from_column(dense.column("dense")),
        "sparse": list(zip(sparse.column("sparse_indices").to_pylist(), sparse.column("sparse_values").to_pylist())),
        "sources": sparse.column("sparse_source").to_pylist(),
    }


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pressure")
    _write_collection(path)
    return path


@pytest.fixture(scope="module")
def module_instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture(scope="module")
def baseline(module_instance: dg.DagsterInstance, root: Path) -> dict[str, Any]:
    return _run(module_instance, root, sim=None)


def _same_sparse(a: tuple[list[int], list[float]], b: tuple[list[int], list[float]]) -> bool:
    return a[0] == b[0] and np.allclose(a[1], b[1], atol=1e-5)


@pytest.mark.parametrize(
    ("sim", "devices", "min_batch", "halved", "fallbacks"),
    [
        ("oom_above_batch=8,stages=dense", ["sim:0"], 8, 2, 0),
        ("oom_at_calls=2+3,stages=dense", ["sim:0"], 8, 2, 0),
        ("oom_always=1,stages=dense", ["cpu"], 16, 3, 1),
    ],
)
def test_dense_oom_halves_then_moves_to_cpu_with_identical_vectors(
        module_instance: dg.DagsterInstance, root: Path, baseline: dict[str, Any], sim: str, devices: list[str],
        min_batch: int, halved: int, fallbacks: int) -> None:
    got = _run(module_instance, root, sim=sim)
    dense = got["manifest"]["stages"]["dense"]
    assert got["ids"] == baseline["ids"]
    assert np.allclose(got["dense"], baseline["dense"], atol=1e-5)
    assert dense["devices"] == devices and dense["min_batch_size"] == min_batch
    assert dense["batch_events"]["halved_on_oom"] == halved and dense["oom_retries"] >= halved
    assert dense["batch_events"]["device_fallbacks"] == fallbacks


def test_soft_limit_exceedance_halves_and_is_reported(module_instance: dg.DagsterInstance, root: Path,
                                                      baseline: dict[str, Any]) -> None:
    gpu = GpuLeaseResource(simulated="weights_gb=0.5,bytes_per_token=2000000", soft_limit_gb=1.0,
                           ledger_dir=str(root / "leases"))
    result = materialize_collection(module_instance, root, COLLECTION, gpu=gpu,
                                    model_manager=_manager(dense_batch_size=32))
    assert result.success
    m = read_manifest(root, COLLECTION)
    perf = m["performance"]
    assert m["stages"]["dense"]["batch_events"]["halved_on_soft_limit"] >= 1
    assert perf["stages"]["dense"]["soft_limit_exceeded"] and perf["soft_limit_exceeded"]
    assert perf["stages"]["dense"]["peak_vram_bytes"] > perf["vram_budget"]["soft_limit_bytes"]
    assert not perf["hard_cap_exceeded"] and perf["vram_budget"]["hard_cap_bytes"] == 12 * 1024**3
    stored = pq.read_table(root / "storage" / "dense_embeddings" / f"{COLLECTION}.parquet")
    assert np.allclose(vectors_from_column(stored.column("dense")), baseline["dense"], atol=1e-5)


def test_sparse_oom_on_the_gpu_halves_to_four(module_instance: dg.DagsterInstance, root: Path,
                                              baseline: dict[str, Any]) -> None:
    got = _run(module_instance, root, sim="oom_above_batch=4,stages=sparse", sparse_on_gpu=True)
    sparse = got["manifest"]["stages"]["sparse"]
    assert sparse["devices"] == ["sim:0"] and sparse["min_batch_size"] == 4
    events = sparse["batch_events"]
    # 16 → 8 → 4; after a run of successes it grows back to 8 and halves again on the next OOM.
    assert events["halved_on_oom"] == 2 + events["grown"] and not sparse["fallback_used"]
    assert set(got["sources"]) == {"model-gpu"}
    assert all(_same_sparse(a, b) for a, b in zip(got["sparse"], baseline["sparse"]))


def test_sparse_oom_that_persists_on_cpu_gives_metadata_vectors_for_exactly_the_rest(
        module_instance: dg.DagsterInstance, root: Path, baseline: dict[str, Any]) -> None:
    got = _run(module_instance, root, sim="oom_always=1,cpu_oom_after=2,stages=sparse", sparse_batch=8,
               sparse_on_gpu=True, gates=QualityGatesResource(max_fallback_ratio=1.0))
    m = got["manifest"]
    sparse = m["stages"]["sparse"]
    assert sparse["source_counts"] == {"model-gpu": 0, "model-cpu": 16, "metadata": 32}
    assert sparse["fallback_used"] and m["sparse_run"]["fallback_used"]
    assert sparse["batch_events"]["device_fallbacks"] == 1 and sparse["batch_events"]["metadata_fallbacks"] == 1
    model_rows = [i for i, s in enumerate(got["sources"]) if s == "model-cpu"]
    assert len(model_rows) == 16
    assert all(_same_sparse(got["sparse"][i], baseline["sparse"][i]) for i in model_rows)
    meta_rows = [i for i, s in enumerate(got["sources"]) if s == "metadata"]
    assert all(got["sparse"][i][0] and not _same_sparse(got["sparse"][i], baseline["sparse"][i]) for i in meta_rows)


def test_batch_changes_are_span_events_in_the_runs_trace(module_instance: dg.DagsterInstance, root: Path,
                                                         span_exporter: Any) -> None:
    import uuid

    span_exporter.clear()
    gpu = GpuLeaseResource(simulated="oom_above_batch=8,stages=dense", ledger_dir=str(root / "leases"))
    result = materialize_collection(module_instance, root, COLLECTION, gpu=gpu,
                                    model_manager=_manager(dense_batch_size=32))
    assert result.success
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    dense = spans["embed_assets.dense_embeddings"]
    assert dense.context.trace_id == uuid.UUID(result.run_id).int
    assert {s.context.trace_id for s in spans.values()} == {dense.context.trace_id}
    assert dense.attributes["embed_assets.collection"] == COLLECTION
    halvings = [(e.attributes["old_batch_size"], e.attributes["new_batch_size"], e.attributes["device"])
                for e in dense.events if e.name == "batch.halve_on_oom"]
    assert halvings == [(32, 16, "sim:0"), (16, 8, "sim:0")]
