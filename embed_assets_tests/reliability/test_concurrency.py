"""Several runs at once: first runs on a fresh instance all work, runs of the same
collection take turns (the waiting one says so), every manifest's provenance is its own
run's, and evaluation never writes into a collection it did not create."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from embed_assets.core.manifest.envelopes import ChunksEnvelope, ChunksLineage, read_envelope
from embed_assets.core.stages.summary import StageEnvelopes
from embed_assets.runs.instance import open_instance

from ..helpers import REPO, run_cli


@pytest.mark.slow
def test_concurrent_first_runs_on_a_fresh_instance(tmp_path: Path, data_root: Path) -> None:
    home = tmp_path / "fresh-home"  # does not exist yet: every process races to create it
    collections = ["ops-faq", "retrieval-handbook", "messy-inputs", "ops-faq"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("EMBED_ASSETS_") or k == "EMBED_ASSETS_MODEL_CACHE"}
    env.update({"DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1"})
    procs = [subprocess.Popen([sys.executable, "-m", "embed_assets.cli", "run", "--data-root", str(data_root),
                               "--collection", c, "--disable-sparse"], env=env, cwd=REPO, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in collections]
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, out + err
    assert sum("ops-faq is being materialized by pid" in err for _, err in results) == 1
    instance = open_instance(home)
    runs = instance.get_runs()
    assert len(runs) == 4 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    manifest = json.loads((data_root / "exports" / "ops-faq" / "processing_summary.json").read_text())
    storage = data_root / "storage" / "chunks" / "ops-faq.parquet"
    lineage = read_envelope(pq.read_schema(storage), ChunksEnvelope).lineage
    assert manifest["run"]["dagster_run_id"] == lineage.run_id  # the published manifest is the last writer's own


def test_a_run_refuses_chunks_another_run_rewrote() -> None:
    """The summary of a run that wrote the chunks refuses chunks that carry another run's id."""
    mine = ChunksLineage(chunks_sha256="a" * 64, inputs_sha256="b" * 64, run_id="run-mine")
    theirs = mine.model_copy(update={"run_id": "run-theirs"})

    class Envelope:
        def __init__(self, lineage: ChunksLineage) -> None:
            self.lineage = lineage

    envelopes = StageEnvelopes(*(Envelope(theirs) for _ in range(4)))  # type: ignore[arg-type]
    assert envelopes.problems(None) == []
    assert any("rewritten by run run-thei" in p for p in envelopes.problems("run-mine"))
    envelopes.dense = Envelope(mine)  # type: ignore[assignment]
    assert any(p.startswith("dense_embeddings was computed from") for p in envelopes.problems(None))


def test_the_embedded_instance_queues_one_run_per_collection(tmp_path: Path) -> None:
    instance = open_instance(tmp_path / "home")
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert instance.run_monitoring_enabled


def test_eval_never_writes_into_a_collection_it_did_not_create(tmp_path: Path, data_root: Path) -> None:
    beir = REPO / "data" / "eval" / "python-docstrings"
    target = data_root / "collections" / "ops-faq"
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    started = time.perf_counter()
    done = run_cli(["eval", "--beir", str(beir), "--collection", "ops-faq", "--data-root", str(data_root)],
                   tmp_path / "home")
    assert done.returncode == 2 and "was not created by eval" in done.stderr
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert time.perf_counter() - started < 60  # refused before any model was loaded
