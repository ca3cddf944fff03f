"""Shards end to end on real models: a sharded run publishes what an unsharded one does, the
embedding cache stays whole (shards read it, the merge writes it), and a failed shard re-runs
alone through Dagster's re-execution from failure."""

from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from embed_assets.core.encode.cache import unique_first
from embed_assets.defs.config import SHARDS_TAG
from embed_assets.defs.io_manager import step_outputs_folder
from embed_assets.resources import ModelManagerResource

from ..helpers import SAMPLES, materialize_collection, read_manifest

pytestmark = pytest.mark.slow
COLLECTION = "sharded"
LEXICAL = {"ops": {"sparse_vectors": {"config": {"enable_lexical": True}}}}


def embed_job() -> dg.JobDefinition:
    """The job as a code location builds it (reconstructable: re-execution needs that)."""
    from embed_assets.defs.definitions import JOB_NAME, build_definitions

    return build_definitions().resolve_job_def(JOB_NAME)


def _write_collection(root: Path) -> None:
    """The handbook's documents, plus notes that repeat texts across the collection (so shards
    meet duplicates that belong to other shards)."""
    folder = root / "collections" / COLLECTION
    folder.mkdir(parents=True)
    for source in (SAMPLES / "retrieval-handbook").iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    for i in range(24):
        text = f"Note {i % 9} about shards, merges and the embedding cache of collection {i % 5}."
        (folder / f"note-{i:02d}.txt").write_text(text)


def _published(root: Path) -> dict[str, Any]:
    fused = pq.read_table(root / "exports" / COLLECTION / "fused_vectors.parquet").to_pydict()
    return {"manifest": read_manifest(root, COLLECTION), **fused}


def _counts(manifest: dict[str, Any]) -> dict[str, Any]:
    st = manifest["stages"]
    sparse = {k: st["sparse"][k] for k in ("count", "unique_chunks", "encoded", "source_counts", "coverage",
                                           "fallback_used")}
    dense = {k: st["dense"][k] for k in ("count", "dim", "unique_chunks", "encoded", "models")}
    return {"documents": st["chunks"]["documents"], "chunks": st["chunks"]["count"], "dense": dense, "sparse": sparse,
            "lexical_count": st["sparse"]["lexical"]["count"], "exports": [(e["path"], e["rows"]) for e in
                                                                          manifest["exports"]]}


def test_a_sharded_run_publishes_what_an_unsharded_run_does(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    runs = {}
    for shards in (1, 3):
        root = tmp_path / f"k{shards}"
        _write_collection(root)
        outcome = materialize_collection(instance, root, COLLECTION, tags={SHARDS_TAG: str(shards)},
                                         run_config=LEXICAL, model_manager=ModelManagerResource())
        assert outcome.ok, outcome.failures
        runs[shards] = _published(root)
    one, three = runs[1], runs[3]
    assert (one["manifest"]["stages"]["dense"]["shards"], three["manifest"]["stages"]["dense"]["shards"]) == (1, 3)
    assert three["manifest"]["stages"]["sparse"]["shards"] == 3
    # every shard step ran on the configured backend, and the merge records it
    assert three["manifest"]["stages"]["dense"]["models"][0]["backend"]["name"] == "onnx-int8"
    assert three["manifest"]["stages"]["sparse"]["model"]["backend"]["name"] == "onnx-int8"
    assert _counts(one["manifest"]) == _counts(three["manifest"])
    assert one["chunk_id"] == three["chunk_id"] and one["doc_id"] == three["doc_id"]
    assert np.allclose(np.array(one["dense"]), np.array(three["dense"]), atol=1e-5)
    for column in ("sparse_indices", "lexical_indices"):
        assert one[column] == three[column]
    for column in ("sparse_values", "lexical_values"):
        assert all(np.allclose(a, b, atol=1e-4) for a, b in zip(one[column], three[column]))
    assert one["sparse_source"] == three["sparse_source"]


def test_shards_read_the_cache_and_the_merge_keeps_it_whole(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    _write_collection(tmp_path)
    first = materialize_collection(instance, tmp_path, COLLECTION, tags={SHARDS_TAG: "3"})
    st = read_manifest(tmp_path, COLLECTION)["stages"]
    assert first.ok and st["dense"]["encoded"] == st["dense"]["unique_chunks"] == st["sparse"]["encoded"]
    again = materialize_collection(instance, tmp_path, COLLECTION, tags={SHARDS_TAG: "2"})
    st = read_manifest(tmp_path, COLLECTION)["stages"]
    assert again.ok and (st["dense"]["encoded"], st["sparse"]["encoded"], st["dense"]["shards"]) == (0, 0, 2)
    hashes = pq.read_table(tmp_path / "storage" / "chunks" / f"{COLLECTION}.parquet").column("content_hash").to_pylist()
    distinct = sorted({hashes[i] for i in unique_first(hashes)[0]})
    caches = sorted((tmp_path / "cache" / COLLECTION).glob("*.parquet"))
    assert [p.name.split("-")[0] for p in caches] == ["dense", "sparse"]
    for path in caches:  # one file per model, holding exactly the current chunks
        assert sorted(pq.read_table(path).column("content_hash").to_pylist()) == distinct
    # The first run's shard outputs were pruned once it had succeeded: only the last run's stay.
    assert [p.name for p in step_outputs_folder(tmp_path / "storage", COLLECTION).iterdir()] == [again.run_id]


def test_a_failed_shard_reruns_alone(instance: dg.DagsterInstance, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _write_collection(tmp_path)
    monkeypatch.setenv("EMBED_ASSETS_DATA_ROOT", str(tmp_path))
    instance.add_dynamic_partitions("collections", [COLLECTION])
    monkeypatch.setenv("EMBED_ASSETS_FAIL_AT", "sparse_shard:1")
    with dg.execute_job(dg.reconstructable(embed_job), instance,
                        tags={"dagster/partition": COLLECTION, SHARDS_TAG: "3"}) as failed:
        assert not failed.success
        assert [e.step_key for e in failed.all_events if e.is_step_failure] == ["sparse_vectors.sparse_shard[shard_1]"]
        parent = failed.run_id
    monkeypatch.delenv("EMBED_ASSETS_FAIL_AT")
    options = dg.ReexecutionOptions.from_failure(parent, instance)
    tags = {k: v for k, v in instance.get_run_by_id(parent).tags.items() if k in ("dagster/partition", SHARDS_TAG)}
    with dg.execute_job(dg.reconstructable(embed_job), instance, reexecution_options=options, tags=tags) as rerun:
        assert rerun.success
        ran = {e.step_key for e in rerun.all_events if e.is_step_success}
    assert "sparse_vectors.sparse_shard[shard_1]" in ran and "sparse_vectors.sparse_merge" in ran
    assert not {k for k in ran if k.startswith(("chunks", "dense_embeddings.")) or "shard_0" in k or "shard_2" in k}
    manifest = read_manifest(tmp_path, COLLECTION)
    assert manifest["run"]["dagster_run_id"] == rerun.run_id and manifest["stages"]["sparse"]["shards"] == 3
