"""``make scale-demo``: the product on a real local cluster.

    python -m embed_assets.cluster.demo [--workers 2] [--shards 4] [--sharded-chunks 600] [--keep]

Starts PostgreSQL, Redis, Celery workers and the Dagster daemon under a temporary folder,
backfills every bundled collection plus one generated collection split into ``--shards``
shards through the daemon and the Celery executor, validates every export, stops everything
by PID, and prints one JSON object as its last line. Worker ``w1`` takes the ``gpu`` and
the default queue, the others only ``gpu``: GPU steps (the shards) spread over all of them,
every other step runs on ``w1``. The bundled collections' runs go side by side; the sharded
collection's run follows, its shards side by side on the workers.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from embed_assets.core.settings import collections_dir

from .backfills import StepReport, backfill_id, launch_backfill, step_report, wait_for_runs
from .exports import validate_exports
from .local import LocalCluster, WorkerSpec

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "collections"
SHARDED = "scale-sample"


def prepare_data(data_root: Path, sharded_chunks: int) -> tuple[list[str], str]:
    """The bundled collections, plus a generated one to shard."""
    from embed_assets.bench.corpus import write_collection

    target = collections_dir(data_root)
    shutil.copytree(SAMPLES, target)
    bundled = sorted(p.name for p in target.iterdir() if p.is_dir())
    write_collection(target / SHARDED, sharded_chunks, seed=11)
    return bundled, SHARDED


def worker_specs(count: int, threads: int = 1) -> list[WorkerSpec]:
    return [WorkerSpec(name=f"w{i + 1}", queues=["gpu", "dagster"] if i == 0 else ["gpu"], threads=threads)
            for i in range(count)]


def run_backfills(cluster: LocalCluster, bundled: list[str], sharded: str, shards: int) -> tuple[list[Any], float]:
    """The bundled collections' backfill (their runs side by side), then the sharded collection's
    (its shards side by side on the workers); the runs, and the wall time from the first launch."""
    with cluster.instance() as instance:
        instance.add_dynamic_partitions("collections", [*bundled, sharded])
        started = time.perf_counter()
        env = cluster.env()
        runs = []
        for partitions, tags in ((bundled, None), ([sharded], {"embed_assets/shards": str(shards)})):
            launched = backfill_id(launch_backfill(env, cluster.workspace, partitions, tags, cwd=cluster.root))
            runs += wait_for_runs(instance, [launched], len(partitions))
        return runs, time.perf_counter() - started


def summarize(report: StepReport, runs: list[Any], sharded: str, specs: list[WorkerSpec]) -> dict[str, Any]:
    shard_steps = report.gpu_steps_by_worker(sharded)
    gpu_only = {f"{s.name}@" for s in specs if "dagster" not in s.queues}
    misrouted = [s.step for s in report.steps if not s.gpu and any((s.worker or "").startswith(w) for w in gpu_only)]
    return {
        "workers": sorted(report.by_worker()), "queues": {s.name: s.queues for s in specs},
        "steps_by_worker": report.by_worker(), "model_loads_by_worker": report.model_loads_by_worker(),
        "shard_steps_by_worker": {w: len(v) for w, v in shard_steps.items()},
        "gpu_steps_routed_to_gpu_queue": all(s.queue == "gpu" for s in report.steps if s.gpu),
        "non_gpu_steps_on_gpu_only_workers": misrouted,
        "runs": {r.tags.get("dagster/partition"): r.status.value for r in runs},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.cluster.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--sharded-chunks", type=int, default=600, help="size of the generated collection to shard")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data) for inspection")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    cluster = LocalCluster(gpu_slots=args.workers)
    specs = worker_specs(args.workers)
    result: dict[str, Any] = {"backfill_ok": False}
    try:
        bundled, sharded = prepare_data(cluster.data_root, args.sharded_chunks)
        print(f"cluster folder {cluster.root}; starting postgres, redis, {args.workers} workers, daemon",
              file=sys.stderr)
        cluster.start_servers()
        cluster.start_workers(specs)
        cluster.start_daemon()
        print("launching the backfills", file=sys.stderr)
        runs, backfill_s = run_backfills(cluster, bundled, sharded, args.shards)
        with cluster.instance() as instance:
            result.update(summarize(step_report(instance, runs), runs, sharded, specs))
            result["runs_on_instance"] = len(instance.get_run_ids())  # the backfills' runs, no others
        exports = validate_exports(cluster.data_root, runs, {sharded: args.shards})
        result.update(backfill_ok=all(r.status.value == "SUCCESS" for r in runs), backfill_wall_s=round(backfill_s, 1),
                      partitions=len(runs), collections=[*bundled, sharded], sharded_collection=sharded,
                      shards=args.shards, exports_ok=not exports, export_problems=exports)
    finally:
        left = cluster.stop()
        result["left_running"] = left
        if not args.keep:
            cluster.remove()
    result["wall_s"] = round(time.perf_counter() - started, 1)
    ok = result["backfill_ok"] and result.get("exports_ok") and not result["left_running"]
    print(json.dumps(result))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
