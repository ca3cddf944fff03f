"""Splitting a collection's encoding work into shards that can run on different workers.

A shard is a contiguous range of the collection's *distinct* chunk texts (first
occurrences, in chunk order), so identical chunks are encoded once across all shards, as
in an unsharded run. Ranges are balanced by tokens, not by count: encoding time follows
tokens. Every shard reads the embedding cache; only the merge writes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field, model_validator

from .cache import unique_first


class ShardSpec(BaseModel):
    """One shard: distinct chunk texts ``[start, stop)`` of ``unique_total``, shard ``index`` of ``count``."""

    index: int = Field(ge=0)
    count: int = Field(ge=1)
    start: int = Field(ge=0)
    stop: int = Field(ge=0)
    unique_total: int = Field(ge=0)

    @model_validator(mode="after")
    def _in_range(self) -> ShardSpec:
        if self.index >= self.count or not self.start <= self.stop <= self.unique_total:
            raise ValueError(f"shard {self.index}/{self.count} [{self.start}, {self.stop}) does not fit "
                             f"{self.unique_total} distinct chunks")
        return self

    @property
    def key(self) -> str:
        """The shard's mapping key: its steps are ``<op>[shard_<index>]``."""
        return f"shard_{self.index}"

    @property
    def size(self) -> int:
        return self.stop - self.start


def plan_shards(hashes: Sequence[str], lengths: Sequence[int], requested: int) -> list[ShardSpec]:
    """``requested`` shards (fewer when there are fewer distinct chunks; at least one) over the
    distinct chunk texts, each holding about the same number of tokens."""
    firsts, _ = unique_first(list(hashes))
    total = len(firsts)
    count = max(1, min(int(requested), total))
    tokens = np.asarray([lengths[i] + 2 for i in firsts], dtype=np.float64)  # + the special tokens
    cumulative = np.cumsum(tokens)
    bounds = [0]
    for i in range(1, count):
        cut = int(np.searchsorted(cumulative, cumulative[-1] * i / count, side="left")) + 1
        bounds.append(min(max(cut, bounds[-1] + 1), total - (count - i)))  # every shard keeps >= 1 text
    bounds.append(total)
    return [ShardSpec(index=i, count=count, start=bounds[i], stop=bounds[i + 1], unique_total=total)
            for i in range(count)]


def shard_rows(hashes: Sequence[str], shard: ShardSpec) -> list[int]:
    """Row positions (first occurrences) of the distinct chunk texts ``shard`` covers."""
    firsts, _ = unique_first(list(hashes))
    if len(firsts) != shard.unique_total:
        raise ValueError(f"the chunks hold {len(firsts)} distinct texts, but shard {shard.index} was planned for "
                         f"{shard.unique_total}; the chunks changed since the plan")
    return firsts[shard.start:shard.stop]


class ShardCoverageError(ValueError):
    """The shards handed to a merge do not tile the distinct chunks exactly once."""


def check_coverage(shards: Sequence[ShardSpec], unique_total: int) -> list[ShardSpec]:
    """The shards in order, after checking they are one plan's, complete and non-overlapping."""
    ordered = sorted(shards, key=lambda s: s.index)
    count = ordered[0].count if ordered else 0
    problems = []
    if [s.index for s in ordered] != list(range(count)) or any(s.count != count for s in ordered):
        problems.append(f"expected shards 0..{count - 1} of one plan, got {[s.index for s in ordered]}")
    position = 0
    for s in ordered:
        if s.start != position or s.unique_total != unique_total:
            problems.append(f"shard {s.index} covers [{s.start}, {s.stop}) of {s.unique_total}, expected to start "
                            f"at {position} of {unique_total}")
        position = s.stop
    if position != unique_total:
        problems.append(f"the shards cover {position} of {unique_total} distinct chunks")
    if problems:
        raise ShardCoverageError("; ".join(problems))
    return ordered
