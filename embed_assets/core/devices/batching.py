"""Adaptive batch sizing shared by the dense and sparse stages.

On an out-of-memory error the batch is halved and the *same* batch retried; when the
measured device memory passes the soft limit after a batch, the next batches are
halved. Below the minimum batch the run stops with :class:`BatchFloorReached`,
carrying the position and the finished results, so the caller can continue the
remaining items on another device without dropping or re-encoding any item.
After a run of successes the batch grows back, never above the configured size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..telemetry import child_span
from .events import BatchEvent
from .memory import trim_heap

T = TypeVar("T")

MIN_BATCH = 4


def is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's OutOfMemoryError and the allocator's 'out of memory' errors."""
    name = type(exc).__name__
    if name == "OutOfMemoryError":
        return True
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError):
        msg = str(exc).lower()
        return "out of memory" in msg or "can't allocate memory" in msg
    return False


class EncodingError(RuntimeError):
    """A model failed on a batch. The message names the failure but never quotes it:
    a model's or tokenizer's message could contain the text being encoded."""

    @classmethod
    def of(cls, exc: BaseException, stage: str, start: int, stop: int) -> EncodingError:
        return cls(f"{stage}: {type(exc).__name__} while encoding items {start}..{stop - 1} "
                   "(the original message is withheld because it may quote the input)")


@dataclass
class Segment(Generic[T]):
    """The output of one successful batch: items ``[start, stop)`` encoded on ``device``."""

    device: str
    start: int
    stop: int
    output: T


class BatchFloorReached(RuntimeError):
    def __init__(self, position: int, results: list[Segment[Any]], cause: BaseException) -> None:
        super().__init__(f"batch size fell below the minimum at item {position}: {type(cause).__name__}")
        self.position = position
        self.results = results
        self.cause = cause


@dataclass
class BatchRunStats:
    batch_sizes: list[int] = field(default_factory=list)
    oom_retries: int = 0
    soft_limit_exceedances: int = 0
    peak_memory_bytes: int = 0
    busy_s: float = 0.0
    """Seconds spent inside encode calls (the embedding work itself)."""

    @property
    def max_batch(self) -> int:
        return max(self.batch_sizes, default=0)

    @property
    def min_batch(self) -> int:
        return min(self.batch_sizes, default=0)


class AdaptiveBatcher:
    def __init__(
        self,
        stage: str,
        device: str,
        batch_size: int,
        *,
        min_batch: int = MIN_BATCH,
        grow_after: int = 8,
        soft_limit_bytes: int | None = None,
        memory_probe: Callable[[], int | None] | None = None,
        clear_cache: Callable[[], None] | None = None,
        on_event: Callable[[BatchEvent], None] | None = None,
        token_budget: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.stage = stage
        self.device = device
        self.configured = batch_size
        self.size = batch_size
        self.min_batch = min(min_batch, batch_size)
        self.grow_after = grow_after
        self.soft_limit_bytes = soft_limit_bytes
        self.memory_probe = memory_probe
        self.clear_cache = clear_cache or (lambda: None)
        self.on_event = on_event or (lambda event: None)
        self.token_budget = token_budget
        self.stats = BatchRunStats()

    def _end(self, pos: int, stop: int, lengths: Sequence[int] | None) -> int:
        """Where the batch starting at ``pos`` ends: at most ``size`` items, and — with a token
        budget and items sorted longest first — at most budget / (padded length) items, but
        never fewer than the batch floor (the floor wins over the budget). The budget shrinks
        and grows with ``size``, so halving on OOM halves it too."""
        n = self.size
        if self.token_budget and lengths is not None:
            budget = self.token_budget * self.size // self.configured
            n = min(n, max(self.min_batch, budget // (int(lengths[pos]) + 2)))
        return min(pos + n, stop)

    def _emit(self, kind: str, old: int, new: int, pos: int, used: int | None = None, detail: str = "") -> None:
        self.on_event(BatchEvent(stage=self.stage, device=self.device, kind=kind, old_batch_size=old,  # type: ignore[arg-type]
                                 new_batch_size=new, position=pos, memory_used_bytes=used,
                                 soft_limit_bytes=self.soft_limit_bytes, detail=detail))

    def run(self, start: int, stop: int, encode: Callable[[int, int], T],
            lengths: Sequence[int] | None = None) -> list[Segment[T]]:
        """Encode items ``[start, stop)`` in adaptive batches; ``encode(a, b)`` handles items a..b-1.
        ``lengths`` (token counts, longest first) enable the token budget."""
        results: list[Segment[T]] = []
        pos = start
        successes = 0
        while pos < stop:
            end = self._end(pos, stop, lengths)
            began = time.perf_counter()
            try:
                with child_span("batch", stage=self.stage, device=self.device, batch_size=end - pos, start=pos):
                    out = encode(pos, end)
            except Exception as exc:  # noqa: BLE001 - only OOM is handled, the rest re-raised
                self.stats.busy_s += time.perf_counter() - began
                if isinstance(exc, EncodingError):
                    raise
                if not is_out_of_memory(exc):
                    raise EncodingError.of(exc, self.stage, pos, end) from None
                self.clear_cache()
                self.stats.oom_retries += 1
                successes = 0
                old = self.size
                if old // 2 < self.min_batch:
                    self._emit("floor_reached", old, old, pos, detail=type(exc).__name__)
                    raise BatchFloorReached(pos, results, exc) from exc
                self.size = old // 2
                self._emit("halve_on_oom", old, self.size, pos, detail=type(exc).__name__)
                continue
            self.stats.busy_s += time.perf_counter() - began
            trim_heap()
            results.append(Segment(self.device, pos, end, out))
            self.stats.batch_sizes.append(end - pos)
            pos = end
            successes += 1
            used = self.memory_probe() if self.memory_probe else None
            if used is not None:
                self.stats.peak_memory_bytes = max(self.stats.peak_memory_bytes, used)
            if used is not None and self.soft_limit_bytes is not None and used > self.soft_limit_bytes:
                self.stats.soft_limit_exceedances += 1
                successes = 0
                old = self.size
                self.size = max(self.min_batch, old // 2)
                self.clear_cache()
                self._emit("halve_on_soft_limit", old, self.size, pos, used=used)
            elif successes >= self.grow_after and self.size < self.configured:
                old = self.size
                self.size = min(self.configured, old * 2)
                successes = 0
                self._emit("grow", old, self.size, pos, used=used)
        return results


def run_on_devices(
    n: int,
    devices: list[str],
    make_batcher: Callable[[str], AdaptiveBatcher],
    encode: Callable[[str, int, int], T],
    on_event: Callable[[BatchEvent], None] | None = None,
    lengths: Sequence[int] | None = None,
) -> tuple[list[Segment[T]], int, list[AdaptiveBatcher]]:
    """Encode ``n`` items, moving to the next device in ``devices`` whenever the batch
    floor is reached. Returns the segments (in item order), how many items are done
    (``n`` unless every device gave up) and the batchers, for their statistics."""
    segments: list[Segment[T]] = []
    batchers: list[AdaptiveBatcher] = []
    pos = 0
    for i, device in enumerate(devices):
        batcher = make_batcher(device)
        batchers.append(batcher)
        try:
            segments.extend(batcher.run(pos, n, lambda a, b, _d=device: encode(_d, a, b), lengths))
            return segments, n, batchers
        except BatchFloorReached as floor:
            segments.extend(floor.results)
            pos = floor.position
            nxt = devices[i + 1] if i + 1 < len(devices) else None
            if on_event is not None:
                on_event(BatchEvent(stage=batcher.stage, device=device,
                                    kind="device_fallback" if nxt else "floor_reached",
                                    old_batch_size=batcher.size, new_batch_size=batcher.configured if nxt else 0,
                                    position=pos, detail=f"moving to {nxt}" if nxt else "no device left"))
    return segments, pos, batchers


BatcherFactory = Callable[[str, str, Callable[[BatchEvent], None]], AdaptiveBatcher]
"""``factory(stage, device, on_event)`` -> a batcher; the GPU lease supplies one with its
soft limit and memory probe."""


def fixed_batcher_factory(batch_size: int, min_batch: int = MIN_BATCH, token_budget: int | None = None) -> BatcherFactory:
    def make(stage: str, device: str, on_event: Callable[[BatchEvent], None]) -> AdaptiveBatcher:
        return AdaptiveBatcher(stage, device, batch_size, min_batch=min_batch, on_event=on_event,
                               token_budget=token_budget)

    return make
