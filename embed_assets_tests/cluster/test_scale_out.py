"""The scale-out path of ``make scale-demo``, for real: PostgreSQL, Redis, two Celery workers
and the Dagster daemon, a backfill of every bundled collection plus one collection in shards,
launched through the daemon and the Celery executor — then nothing left running."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embed_assets.cluster.demo import worker_specs
from embed_assets.cluster.services import session_members

from ..helpers import REPO

pytestmark = pytest.mark.slow


def _cluster_processes() -> list[str]:
    """Processes of any local cluster (its folders are named embed-cluster-*)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "embed-cluster-" in cmdline or "embed_assets.runs.celery_app" in cmdline:
                found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_a_backfill_through_the_daemon_spreads_shards_over_celery_workers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBED_ASSETS_", "DAGSTER_"))}
    done = subprocess.run([sys.executable, "-m", "embed_assets.cluster.demo", "--workers", "2", "--shards", "4",
                           "--sharded-chunks", "300"], cwd=REPO, env={**env, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backfill_ok"] and result["exports_ok"] and result["left_running"] == []
    assert result["partitions"] == 4 and set(result["runs"].values()) == {"SUCCESS"}
    assert result["runs_on_instance"] == 4  # no sensor ran the collections a second time
    assert result["shards"] == 4 and result["sharded_collection"] == "scale-sample"
    w1, w2 = result["workers"]
    assert w1.startswith("w1@") and w2.startswith("w2@")
    # Every worker ran steps; the shards of the sharded collection ran on both workers.
    assert all(result["steps_by_worker"][w] > 0 for w in (w1, w2))
    assert set(result["shard_steps_by_worker"]) == {w1, w2} and sum(result["shard_steps_by_worker"].values()) == 8
    # GPU steps went to the gpu queue; the gpu-only worker never got another step.
    assert result["gpu_steps_routed_to_gpu_queue"] and result["non_gpu_steps_on_gpu_only_workers"] == []
    # Each worker process loaded each model once (dense and sparse), however many steps it ran.
    assert all(0 < loads <= 2 for loads in result["model_loads_by_worker"].values())
    assert sum(result["steps_by_worker"].values()) > 4 * sum(result["model_loads_by_worker"].values())
    assert _cluster_processes() == []


def test_the_demo_workers_split_the_queues() -> None:
    specs = worker_specs(3, threads=2)
    assert [s.queues for s in specs] == [["gpu", "dagster"], ["gpu"], ["gpu"]] and specs[0].threads == 2
    assert session_members([]) == []
