"""The vector_index asset end to end on a real Dagster instance: built, unchanged, refused
while another run holds the collection, updated incrementally, searched through the CLI and
the Python API, and caught by its check when tampered with."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from embed_assets import open_index
from embed_assets.cli import main
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.storage.publish import ExportPublisher
from embed_assets.resources import ModelManagerResource
from embed_assets.runs.runner import DagsterRunner

from ..helpers import REPO, checks, materialize_collection, materialized

pytestmark = pytest.mark.slow
COLLECTION = "retrieval-handbook"
LEXICAL = {"ops": {"sparse_vectors": {"config": {"enable_lexical": True}}}}
CONTENT = ("chunk_id", "doc_id", "title", "source_path", "ordinal", "dense", "sparse_indices", "sparse_values",
           "lexical_indices", "lexical_values")
NEW_DOC = ("# Vector databases\n\nA vector database keeps embeddings in collections of points. Each point "
           "has named vectors and a payload; an alias lets readers switch collections atomically.\n")


def _rows(folder: Path) -> dict[str, dict[str, Any]]:
    table = pq.read_table(folder / "fused_vectors.parquet", columns=list(CONTENT))
    return {row["chunk_id"]: row for row in table.to_pylist()}


def expected_delta(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """(new or changed chunks, removed chunks) between two exports, compared column by column."""
    def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
        return all(np.allclose(a[c], b[c]) if c == "dense" or c.endswith("values") else a[c] == b[c] for c in CONTENT)

    changed = sum(1 for cid, row in new.items() if cid not in old or not same(old[cid], row))
    return changed, sum(1 for cid in old if cid not in new)


def _holding_the_writer_lock(index_root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "embed_assets_tests.core.index.reader_process",
                                str(index_root), "write", COLLECTION], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().startswith("ready")
    return process


def test_the_index_follows_the_collection(instance: dg.DagsterInstance, data_root: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    first = materialize_collection(instance, data_root, COLLECTION, run_config=LEXICAL)
    assert first.success and "vector_index" in materialized(first) and checks(first)["vector_index_matches_export"]
    meta = first.index
    exports = ExportPublisher(data_root / "exports", COLLECTION)
    first_rows = _rows(exports.current())  # type: ignore[arg-type]
    assert (meta["backend"], meta["collection_name"], meta["location"]) == ("edge", COLLECTION,
                                                                            str(data_root / "index"))
    assert meta["points"] == meta["upserted"] == len(first_rows) and meta["deleted"] == 0

    again = materialize_collection(instance, data_root, COLLECTION, run_config=LEXICAL)
    assert again.success and again.index["unchanged"] is True
    assert (again.index["upserted"], again.index["deleted"], again.index["written"]) == (0, 0, 0)
    assert again.index["index_version"] == meta["index_version"]

    docs = data_root / "collections" / COLLECTION
    changed_doc = sorted(docs.glob("*.md"))[0]
    changed_doc.write_text(changed_doc.read_text("utf-8") + "\n\nA closing paragraph about reranking.\n", "utf-8")
    removed = sorted(docs.glob("*.txt"))[0]
    removed.unlink()
    (docs / "vector-databases.md").write_text(NEW_DOC, "utf-8")

    # Another run holds the collection's index: this run fails, the previous version serves on.
    monkeypatch.setenv("EMBED_ASSETS_INDEX_LOCK_TIMEOUT_S", "0.5")
    holder = _holding_the_writer_lock(data_root / "index")
    try:
        refused = materialize_collection(instance, data_root, COLLECTION, run_config=LEXICAL)
    finally:
        holder.communicate("done\n", timeout=60)
    assert not refused.success and "vector_index" not in materialized(refused)
    assert any("stays served" in f for f in refused.failures), refused.failures
    with open_index(COLLECTION, data_root=data_root) as index:
        assert index.count() == len(first_rows) and index.state.index_version == meta["index_version"]

    monkeypatch.delenv("EMBED_ASSETS_INDEX_LOCK_TIMEOUT_S")
    updated = materialize_collection(instance, data_root, COLLECTION, run_config=LEXICAL)
    assert updated.success and checks(updated)["vector_index_matches_export"]
    upserted, deleted = expected_delta(first_rows, _rows(exports.current()))  # type: ignore[arg-type]
    assert upserted > 0 and deleted > 0
    assert (updated.index["upserted"], updated.index["deleted"]) == (upserted, deleted)
    assert updated.index["index_version"] == meta["index_version"] + 1

    with open_index(COLLECTION, data_root=data_root) as index:
        hits = index.search("which database keeps embeddings as points with named vectors", k=3)
        assert hits[0].doc_id == "vector-databases.md" and index.version == updated.index["physical"]
        engine = index.search("alias switch collections atomically", k=3, fusion="rrf")
        assert engine[0].doc_id == "vector-databases.md"
        assert all(removed.name != h.doc_id for h in index.search(removed.stem.replace("-", " "), k=10))


def test_the_check_fails_on_a_tampered_index_and_search_goes_through_the_index(
        instance: dg.DagsterInstance, data_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # On torch's vectors every document shares a SPLADE term with this query. The engine lists
    # only documents that do, the exact search lists all, so with a document sharing none (as on
    # int8's vectors) min-max normalization sees a different minimum and the scores differ.
    good = materialize_collection(instance, data_root, "ops-faq",
                                  model_manager=ModelManagerResource(encoder_backend="torch"))
    assert good.success and checks(good)["vector_index_matches_export"]
    args = ["search", "--collection", "ops-faq", "--data-root", str(data_root), "--top-k", "2", "--fusion", "convex"]
    assert main([*args, "how do I restart"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "edge index version 1" in captured.err and len(out.strip().splitlines()) == 4
    assert main([*args, "--source", "exports", "how do I restart"]) == 0
    exact = capsys.readouterr().out
    assert "(exports)" in exact and exact.splitlines()[1:] == out.strip().splitlines()[1:]

    target = IndexTarget(root=data_root / "index")
    with target.reader("ops-faq") as reader:
        victim = next(iter(reader.store.fingerprints()))
        reader.store.delete([victim])
    # The next index run sees an export it already indexed and writes nothing; its check
    # compares the index itself with the export and blocks.
    runner = DagsterRunner.for_data_root(instance, data_root=data_root)
    result = runner.job.execute_in_process(partition_key="ops-faq", instance=instance, raise_on_error=False,
                                           asset_selection=[dg.AssetKey("vector_index")])
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.check_name == "vector_index_matches_export"
    assert "points" in str(evaluation.metadata["problems"].value)
    assert evaluation.metadata["points"].value == good.index["points"] - 1


def test_the_index_summary_is_printed_by_run(tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["run", "--data-root", str(data_root), "--collection", "ops-faq"]) == 0
    out = capsys.readouterr().out
    assert "   index      edge ops-faq version 1 (from new)" in out
    line = next(x for x in out.splitlines() if "upserted" in x)
    manifest = json.loads((data_root / "exports" / "ops-faq" / "processing_summary.json").read_text("utf-8"))
    assert f"{manifest['stages']['export']['rows']} points, {manifest['stages']['export']['rows']} upserted" in line
