"""Scaling out: the same backfill on a real local cluster (PostgreSQL, Redis, the Dagster
daemon, the Celery executor) with one worker, then with two; the machine's cores are split
between the workers (torch threads per worker), so the figure is what distributing the steps
buys on the same hardware.

    python -m embed_assets.bench.scaling [--collections 4] [--chunks 300] [--shards 2]

Each measurement starts on a fresh data root (no embedding cache) and times the backfill
from its launch until its last run finished; the last line is one JSON object with
``workers_2_vs_1_speedup`` (time with 1 worker / time with 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from embed_assets.cluster.backfills import backfill_id, launch_backfill, step_report, wait_for_runs
from embed_assets.cluster.local import LocalCluster, WorkerSpec
from embed_assets.core.settings import collections_dir

from .corpus import write_collection

KEY = "workers_2_vs_1_speedup"


def _backfill(cluster: LocalCluster, names: list[str], shards: int) -> dict[str, Any]:
    with cluster.instance() as instance:
        started = time.perf_counter()
        launched = backfill_id(launch_backfill(cluster.env(), cluster.workspace, names,
                                               {"embed_assets/shards": str(shards)}, cwd=cluster.root))
        runs = wait_for_runs(instance, [launched], len(names), timeout_s=1800)
        wall = time.perf_counter() - started
        report = step_report(instance, runs)
    return {"wall_s": wall, "ok": all(r.status.value == "SUCCESS" for r in runs), "steps_by_worker": report.by_worker()}


def _one(cluster: LocalCluster, workers: int, threads: int, names: list[str], chunks: int, shards: int) -> dict:
    cluster.data_root = cluster.root / f"data-{workers}w"
    for i, name in enumerate(names):
        write_collection(collections_dir(cluster.data_root) / name, chunks, seed=100 + i)
    cluster.start_workers([WorkerSpec(name=f"w{i + 1}", threads=threads) for i in range(workers)])
    cluster.start_daemon()
    try:
        return {"workers": workers, "threads_per_worker": threads, **_backfill(cluster, names, shards)}
    finally:
        cluster.stop_daemon()
        cluster.stop_workers()


def measure(collections: int = 4, chunks: int = 300, shards: int = 2, cores: int | None = None) -> dict[str, Any]:
    """Both measurements; ``cores`` (default: this machine's) are split between the workers."""
    cores = cores or os.cpu_count() or 2
    names = [f"scale-{i}" for i in range(collections)]
    cluster = LocalCluster(gpu_slots=2)
    try:
        cluster.start_servers()
        with cluster.instance() as instance:
            instance.add_dynamic_partitions("collections", names)
        one = _one(cluster, 1, cores, names, chunks, shards)
        two = _one(cluster, 2, max(1, cores // 2), names, chunks, shards)
    finally:
        left = cluster.stop()
        cluster.remove()
    return {"one_worker": one, "two_workers": two, "collections": collections, "chunks_per_collection": chunks,
            "shards": shards, "cores": cores, KEY: one["wall_s"] / two["wall_s"], "left_running": left}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.bench.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=300, help="approximate chunks per collection")
    parser.add_argument("--shards", type=int, default=2, help="shards per collection")
    args = parser.parse_args(argv)
    result = measure(args.collections, args.chunks, args.shards)
    for label in ("one_worker", "two_workers"):
        r = result[label]
        print(f"{r['workers']} worker(s) × {r['threads_per_worker']} torch threads: backfill of {args.collections} "
              f"collections in {r['wall_s']:.1f}s; steps {r['steps_by_worker']}", file=sys.stderr)
    ok = result["one_worker"]["ok"] and result["two_workers"]["ok"] and not result["left_running"]
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

