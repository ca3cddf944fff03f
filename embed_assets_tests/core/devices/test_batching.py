import pytest
import torch

from embed_assets.core.devices.batching import AdaptiveBatcher, BatchFloorReached, is_out_of_memory, run_on_devices
from embed_assets.core.devices.events import BatchEvent


def test_oom_detection() -> None:
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def _encoder(fail_above: int, calls: list[tuple[int, int]]):
    def encode(a: int, b: int) -> list[int]:
        calls.append((a, b))
        if b - a > fail_above:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return list(range(a, b))

    return encode


def test_oom_halves_and_retries_the_same_batch_without_loss_or_duplicates() -> None:
    events: list[BatchEvent] = []
    calls: list[tuple[int, int]] = []
    batcher = AdaptiveBatcher("dense", "cuda:0", 32, on_event=events.append, grow_after=1000)
    segments = batcher.run(0, 100, _encoder(8, calls))
    assert [i for s in segments for i in s.output] == list(range(100))
    assert calls[:3] == [(0, 32), (0, 16), (0, 8)]
    assert [(e.kind, e.old_batch_size, e.new_batch_size) for e in events] == [
        ("halve_on_oom", 32, 16), ("halve_on_oom", 16, 8)]
    assert batcher.stats.oom_retries == 2 and set(batcher.stats.batch_sizes) == {8, 4}


def test_below_the_minimum_the_floor_carries_the_finished_work() -> None:
    calls: list[tuple[int, int]] = []
    fail_after = {"n": 0}

    def encode(a: int, b: int) -> list[int]:
        calls.append((a, b))
        fail_after["n"] += 1
        if fail_after["n"] > 2:
            raise torch.OutOfMemoryError("out of memory")
        return list(range(a, b))

    batcher = AdaptiveBatcher("sparse", "cuda:0", 8)
    with pytest.raises(BatchFloorReached) as floor:
        batcher.run(0, 40, encode)
    assert floor.value.position == 16
    assert [i for s in floor.value.results for i in s.output] == list(range(16))
    assert batcher.size == 4


def test_device_chain_moves_to_cpu_and_finishes_every_item() -> None:
    events: list[BatchEvent] = []

    def encode(device: str, a: int, b: int) -> list[tuple[str, int]]:
        if device == "cuda:0" and a >= 12:
            raise torch.OutOfMemoryError("out of memory")
        return [(device, i) for i in range(a, b)]

    segments, done, _ = run_on_devices(
        30, ["cuda:0", "cpu"], lambda d: AdaptiveBatcher("dense", d, 4, on_event=events.append), encode,
        on_event=events.append)
    items = [x for s in segments for x in s.output]
    assert done == 30 and [i for _, i in items] == list(range(30))
    assert {d for d, i in items if i < 12} == {"cuda:0"} and {d for d, i in items if i >= 12} == {"cpu"}
    assert "device_fallback" in [e.kind for e in events]


def test_soft_limit_halves_then_success_grows_back() -> None:
    usage = iter([11, 11] + [5] * 50)
    events: list[BatchEvent] = []
    batcher = AdaptiveBatcher("dense", "cuda:0", 16, grow_after=2, soft_limit_bytes=10,
                              memory_probe=lambda: next(usage), on_event=events.append)
    segments = batcher.run(0, 200, lambda a, b: list(range(a, b)))
    assert [i for s in segments for i in s.output] == list(range(200))
    kinds = [e.kind for e in events]
    assert kinds[:2] == ["halve_on_soft_limit", "halve_on_soft_limit"]
    assert "grow" in kinds and max(batcher.stats.batch_sizes) == 16
    assert batcher.stats.soft_limit_exceedances == 2 and batcher.stats.peak_memory_bytes == 11
