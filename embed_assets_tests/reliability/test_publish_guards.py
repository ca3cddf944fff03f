"""What a run may publish: never an empty or gutted collection over a good export without
an explicit choice, never tables of different chunks, and — by default — the metadata
fallback's vectors with a warning rather than nothing."""

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from embed_assets.core.storage.exports import FUSED_PARQUET

from ..helpers import checks, materialize_collection, read_manifest, run_cli

pytestmark = pytest.mark.slow
ALLOW_EMPTY = {"resources": {"gates": {"config": {"allow_empty": True}}}}
ALLOW_DROP = {"resources": {"gates": {"config": {"max_document_drop": 1.0}}}}


def _published(data_root: Path, collection: str) -> str:
    return os.readlink(data_root / "exports" / collection)


def test_an_emptied_collection_keeps_the_last_good_export(instance: dg.DagsterInstance, data_root: Path,
                                                           tmp_path: Path) -> None:
    folder = data_root / "collections" / "retrieval-handbook"
    assert materialize_collection(instance, data_root, "retrieval-handbook").success
    good = _published(data_root, "retrieval-handbook")
    shutil.move(folder, tmp_path / "unmounted")  # an unmounted share: the mount point is an empty folder
    folder.mkdir()
    empty = materialize_collection(instance, data_root, "retrieval-handbook")
    assert not empty.success and checks(empty)["documents_not_lost"] is False
    assert "processing_summary" not in empty.materialized
    assert _published(data_root, "retrieval-handbook") == good
    evaluation = empty.evaluation("documents_not_lost")
    assert "--allow-empty" in evaluation.metadata["problems"].value
    purged = materialize_collection(instance, data_root, "retrieval-handbook", run_config=ALLOW_EMPTY)
    assert purged.success and _published(data_root, "retrieval-handbook") != good
    assert pq.read_table(data_root / "exports" / "retrieval-handbook" / FUSED_PARQUET).num_rows == 0


def test_a_large_drop_needs_to_be_allowed(instance: dg.DagsterInstance, data_root: Path) -> None:
    folder = data_root / "collections" / "retrieval-handbook"
    assert materialize_collection(instance, data_root, "retrieval-handbook").success
    good = _published(data_root, "retrieval-handbook")
    for name in ("dense-retrieval.md", "sparse-retrieval.md"):  # 2 of 3 documents: 67 % > 50 %
        (folder / name).unlink()
    dropped = materialize_collection(instance, data_root, "retrieval-handbook")
    assert not dropped.success and checks(dropped)["documents_not_lost"] is False
    assert _published(data_root, "retrieval-handbook") == good
    allowed = materialize_collection(instance, data_root, "retrieval-handbook", run_config=ALLOW_DROP)
    assert allowed.success and read_manifest(data_root, "retrieval-handbook")["stages"]["chunks"]["documents"][
        "embedded"] == 1


def test_a_partial_materialization_never_publishes_tables_of_other_chunks(instance: dg.DagsterInstance,
                                                                          data_root: Path) -> None:
    folder = data_root / "collections" / "retrieval-handbook"
    assert materialize_collection(instance, data_root, "retrieval-handbook").success
    good = _published(data_root, "retrieval-handbook")
    (folder / "new-note.txt").write_text("Reciprocal rank fusion merges rankings without calibrating scores.\n")
    # The chunks are rewritten, then the run dies before dense (here: only chunks was selected) ...
    assert materialize_collection(instance, data_root, "retrieval-handbook", assets=["chunks"]).success
    # ... and someone materializes only the summary: its inputs come from two chunk versions.
    partial = materialize_collection(instance, data_root, "retrieval-handbook", assets=["processing_summary"])
    assert not partial.success
    assert any("different chunks" in f and "re-materialize" in f for f in partial.failures), partial.failures
    assert _published(data_root, "retrieval-handbook") == good
    whole = materialize_collection(instance, data_root, "retrieval-handbook")
    assert whole.success and read_manifest(data_root, "retrieval-handbook")["stages"]["chunks"]["documents"][
        "embedded"] == 4


def test_the_sparse_fallback_chain_from_the_cli_warns_and_publishes(tmp_path: Path, data_root: Path) -> None:
    """GPU → CPU → metadata, driven by the simulated device from the command line."""
    faults = {"EMBED_ASSETS_SIMULATED_GPU": "oom_always=1,cpu_oom_after=0,stages=sparse",
              "EMBED_ASSETS_SPARSE_ON_GPU": "1"}
    args = ["run", "--data-root", str(data_root), "--collection", "ops-faq"]
    done = run_cli(args, tmp_path / "home", **faults)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fallback USED" in done.stdout and "WARN: sparse_coverage_and_fallback" in done.stdout
    manifest = read_manifest(data_root, "ops-faq")
    sparse = manifest["stages"]["sparse"]
    assert sparse["fallback_used"] and sparse["source_counts"]["metadata"] == sparse["count"] > 0
    assert sparse["batch_events"]["device_fallbacks"] >= 1 and sparse["batch_events"]["metadata_fallbacks"] >= 1
    assert "sim:0" in sparse["devices"] or sparse["oom_retries"] >= 1
    good = _published(data_root, "ops-faq")
    strict = run_cli([*args, "--strict-sparse"], tmp_path / "home", **faults)
    assert strict.returncode == 1 and "FAILED: sparse_coverage_and_fallback" in strict.stdout
    assert _published(data_root, "ops-faq") == good
    assert json.loads((data_root / "exports" / "ops-faq" / "processing_summary.json").read_text())["run"][
        "dagster_run_id"] == manifest["run"]["dagster_run_id"]
