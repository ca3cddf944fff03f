"""What every sharded stage's merge checks and combines: the shards belong to the current
chunks (same lineage), tile the distinct chunk texts exactly once in order, and their
figures add up."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

import pyarrow as pa

from ..encode.shards import ShardCoverageError, ShardSpec, check_coverage
from ..manifest.envelopes import ChunksLineage
from ..manifest.models import BatchEventCounts


class ShardEnvelope(Protocol):
    lineage: ChunksLineage
    shard: ShardSpec


E = TypeVar("E", bound=ShardEnvelope)


def ordered_shards(parts: Sequence[tuple[E, pa.Table]], lineage: ChunksLineage, unique_hashes: list[str],
                   stage: str) -> list[tuple[E, pa.Table]]:
    """The shards in order, after checking that they were computed from these chunks and
    hold exactly their distinct texts, in first-occurrence order."""
    if not parts:
        raise ShardCoverageError(f"{stage}: no shards to merge")
    stale = sorted(e.shard.index for e, _ in parts if e.lineage != lineage)
    if stale:
        raise ShardCoverageError(f"{stage}: shards {stale} were computed from {parts[0][0].lineage.describe()}, but "
                                 f"the current chunks are {lineage.describe()}; re-materialize {stage}")
    by_index = {e.shard.index: (e, t) for e, t in parts}
    order = check_coverage([e.shard for e, _ in parts], len(unique_hashes))
    ordered = [by_index[s.index] for s in order]
    for e, table in ordered:
        if table.column("content_hash").to_pylist() != unique_hashes[e.shard.start:e.shard.stop]:
            raise ShardCoverageError(f"{stage}: shard {e.shard.index} holds other chunks than its range "
                                     f"[{e.shard.start}, {e.shard.stop})")
    return ordered


def same_encoders(stage: str, tags: Sequence[tuple[int, object]]) -> None:
    """Every shard's vectors came from the same encoders (model weights and backend, as the
    embedding cache keys them): a worker whose int8 kernels missed the probe tolerance falls
    back to fp32, and its shard's vectors would not share the others' space."""
    if len({tag for _, tag in tags}) > 1:
        raise ShardCoverageError(f"{stage}: shards were encoded on different encoder backends "
                                 f"({', '.join(f'shard {i}: {t}' for i, t in tags)}); re-materialize {stage}")


def merged_latency_ms(shard_latencies_ms: Sequence[float], merge_started: float) -> float:
    """A sharded stage's latency: its slowest shard (they run side by side) plus the merge."""
    return max(shard_latencies_ms, default=0.0) + (time.perf_counter() - merge_started) * 1000.0


def sum_event_counts(parts: Sequence[BatchEventCounts]) -> BatchEventCounts:
    return BatchEventCounts(**{name: sum(getattr(p, name) for p in parts) for name in BatchEventCounts.model_fields})
