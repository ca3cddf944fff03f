"""The batching loop shared by every encoder: items sorted longest first (less padding per
batch), adaptive batches along a device chain, one event log, one set of statistics."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from pydantic import BaseModel, Field

from ..devices.batching import AdaptiveBatcher, BatcherFactory, Segment, run_on_devices
from ..devices.events import EventLog
from ..progress import Progress

T = TypeVar("T")


class BatchStats(BaseModel):
    """What the adaptive batchers of a stage did."""

    batch_sizes: list[int] = Field(default_factory=list)
    oom_retries: int = 0
    soft_limit_exceedances: int = 0
    peak_memory_bytes: int = 0
    encode_ms: float = Field(default=0.0, description="Time inside model batches (the embedding work itself).")

    @classmethod
    def of(cls, batchers: Sequence[AdaptiveBatcher]) -> BatchStats:
        return cls(batch_sizes=[b for bt in batchers for b in bt.stats.batch_sizes],
                   oom_retries=sum(bt.stats.oom_retries for bt in batchers),
                   soft_limit_exceedances=sum(bt.stats.soft_limit_exceedances for bt in batchers),
                   peak_memory_bytes=max((bt.stats.peak_memory_bytes for bt in batchers), default=0),
                   encode_ms=sum(bt.stats.busy_s for bt in batchers) * 1000.0)

    @classmethod
    def merge(cls, parts: Sequence[BatchStats]) -> BatchStats:
        return cls(batch_sizes=[b for p in parts for b in p.batch_sizes],
                   oom_retries=sum(p.oom_retries for p in parts),
                   soft_limit_exceedances=sum(p.soft_limit_exceedances for p in parts),
                   peak_memory_bytes=max((p.peak_memory_bytes for p in parts), default=0),
                   encode_ms=sum(p.encode_ms for p in parts))


@dataclass
class SortedRun(Generic[T]):
    """Batch outputs in longest-first order; ``order[k]`` is the input index of sorted item k."""

    order: np.ndarray
    segments: list[Segment[T]]
    done: int
    stats: BatchStats

    @property
    def devices(self) -> list[str]:
        return sorted({s.device for s in self.segments})

    def items(self) -> Iterator[tuple[int, str, object]]:
        """(input index, device, item) for every encoded item of list-valued outputs."""
        for seg in self.segments:
            for offset, item in enumerate(seg.output):  # type: ignore[arg-type]
                yield int(self.order[seg.start + offset]), seg.device, item


def encode_longest_first(texts: Sequence[str], lengths: Sequence[int], *, stage: str, devices: list[str],
                         make_batcher: BatcherFactory, log: EventLog, encode: Callable[[str, list[str]], T],
                         before_batch: Callable[[str, int, int], None] | None = None,
                         progress: Progress | None = None) -> SortedRun[T]:
    """Encode ``texts`` longest first along ``devices``; ``encode(device, texts)`` does one batch;
    ``progress`` advances by each finished batch."""
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    sorted_texts = [texts[i] for i in order]
    sorted_lengths = [int(lengths[i]) for i in order]

    def run_batch(device: str, a: int, b: int) -> T:
        if before_batch:
            before_batch(device, b - a, sum(sorted_lengths[a:b]))
        out = encode(device, sorted_texts[a:b])
        if progress is not None:
            progress.advance(b - a)
        return out

    segments, done, batchers = run_on_devices(len(texts), devices, lambda d: make_batcher(stage, d, log), run_batch,
                                              on_event=log, lengths=sorted_lengths)
    return SortedRun(order=order, segments=segments, done=done, stats=BatchStats.of(batchers))
