"""Two collections materialized at once by separate processes on one instance: the
`gpu` concurrency pool (limit 1) never lets their GPU steps overlap."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from embed_assets.defs.partitions import COLLECTIONS

from ..helpers import REPO

pytestmark = pytest.mark.slow
GPU_STEPS = {"dense_embeddings.dense_shard[shard_0]", "sparse_vectors.sparse_shard[shard_0]"}
CHILD = """
import faulthandler
import sys
faulthandler.dump_traceback_later(400, exit=True)  # a hung child shows where it hangs, then ends
import dagster as dg
from pathlib import Path
from embed_assets.runs.runner import DagsterRunner
outcome = DagsterRunner.for_data_root(dg.DagsterInstance.get(), data_root=Path(sys.argv[1])).materialize(sys.argv[2])
sys.exit(0 if outcome.success else 1)
"""


def _blocked_runs(instance: dg.DagsterInstance) -> int:
    return sum(
        any(r.dagster_event is not None and r.dagster_event.event_type_value == "ENGINE_EVENT"
            and "blocked by limit for pool gpu" in r.message for r in instance.all_logs(run.run_id))
        for run in instance.get_runs())


def test_backfilling_two_collections_respects_the_gpu_pool(tmp_path: Path, data_root: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    collections = ["ops-faq", "retrieval-handbook"]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.set_concurrency_slots("gpu", 1)
        instance.add_dynamic_partitions(COLLECTIONS, collections)
        # Hold the only slot while both runs start, so both must wait on the pool.
        instance.event_log_storage.claim_concurrency_slot("gpu", "holder", "holder-step")
        children = [subprocess.Popen([sys.executable, "-c", CHILD, str(data_root), c], env=env, cwd=REPO)
                    for c in collections]
        deadline = time.monotonic() + 180
        while _blocked_runs(instance) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        instance.event_log_storage.free_concurrency_slot_for_step("holder", "holder-step")
        assert [p.wait(timeout=240) for p in children] == [0, 0]

        intervals: list[tuple[float, float, str]] = []
        blocked = 0
        for run in instance.get_runs():
            start: dict[str, float] = {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None or record.step_key not in GPU_STEPS:
                    continue
                if event.event_type_value == "STEP_START":
                    start[record.step_key] = record.timestamp
                elif event.event_type_value == "STEP_SUCCESS":
                    intervals.append((start[record.step_key], record.timestamp, f"{run.run_id[:8]}:{record.step_key}"))
                elif event.event_type_value == "ENGINE_EVENT" and "blocked by limit for pool gpu" in record.message:
                    blocked += 1
    assert len(intervals) == 4 and blocked >= 2
    intervals.sort()
    for (_, end, a), (begin, _, b) in zip(intervals, intervals[1:]):
        assert begin >= end, f"{a} and {b} ran at the same time under a pool limit of 1"
