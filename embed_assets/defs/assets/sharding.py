"""What the sharded assets share: how many shards a run asked for, the plan step's dynamic
outputs (one step per shard, ``<op>[shard_<i>]`` in the run's Gantt chart), and pruning the
per-run shard outputs that no re-execution can need any more."""

import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa

from embed_assets.core.encode.shards import plan_shards
from embed_assets.core.storage.debris import remove

from ..config import SHARDS_TAG
from ..io_manager import step_outputs_folder
from ..resources import FeaturesResource
from .common import progress

# A failed run's shard outputs stay this long for a re-execution from failure.
FAILED_RUN_RETENTION_S = 3 * 24 * 3600.0


def requested_shards(context: dg.OpExecutionContext, configured: int | None,
                     features: FeaturesResource) -> tuple[int, str]:
    """(shards, what decided): the run tag > run config > $EMBED_ASSETS_SHARDS (default 1)."""
    tag = context.run_tags.get(SHARDS_TAG)
    if tag is not None:
        if not tag.strip().isdigit() or int(tag) < 1:
            raise dg.Failure(f"run tag {SHARDS_TAG}={tag!r} is not a shard count (a whole number from 1)")
        return int(tag), "tag"
    if configured is not None:
        return configured, "run_config"
    return features.shards, "settings"


def shard_outputs(context: dg.OpExecutionContext, stage: str, chunks: pa.Table, requested: int,
                  decided_by: str, output_name: str = "result") -> Iterator[dg.DynamicOutput]:
    """One dynamic output per shard of the chunks' distinct texts, balanced by tokens."""
    shards = plan_shards(chunks.column("content_hash").to_pylist(), chunks.column("token_count").to_pylist(),
                         requested)
    total = shards[0].unique_total
    progress(context, f"{stage}: {len(shards)} shard(s) of {total} distinct chunks "  # type: ignore[arg-type]
                      f"(asked for {requested}, decided by {decided_by})")
    for shard in shards:
        yield dg.DynamicOutput(shard, mapping_key=shard.key, output_name=output_name, metadata={
            "shard": f"{shard.index + 1} of {shard.count}", "distinct_chunks": shard.size,
            "shards_requested": requested, "decided_by": decided_by})


def _prunable(instance: dg.DagsterInstance, run_id: str, group: set[str], folder: Path) -> bool:
    if run_id in group:
        return False
    run = instance.get_run_by_id(run_id)
    if run is None:
        return True
    if not run.is_finished:
        return False
    return run.status == dg.DagsterRunStatus.SUCCESS or time.time() - folder.stat().st_mtime > FAILED_RUN_RETENTION_S


def prune_step_outputs(context: dg.OpExecutionContext, storage: Path) -> list[str]:
    """Remove this partition's shard outputs of other runs that succeeded (or failed long ago);
    never those of this run's re-execution group. Returns the run ids pruned."""
    folder = step_outputs_folder(storage, context.partition_key)
    if not folder.is_dir():
        return []
    try:
        found = context.instance.get_run_group(context.run_id)
    except dg.DagsterRunNotFoundError:  # a step invoked outside a stored run
        found = None
    group = {r.run_id for r in found[1]} if found else {context.run_id}
    pruned = [entry.name for entry in folder.iterdir()
              if entry.is_dir() and _prunable(context.instance, entry.name, group, entry)]
    for run_id in pruned:
        remove(folder / run_id)
    return pruned

