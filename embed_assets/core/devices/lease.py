"""A device granted to a stage: which one, why, and the hooks the adaptive batcher uses
there (soft limit, memory probe, cache clearing, the simulated device's fault injection)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .batching import MIN_BATCH, AdaptiveBatcher, BatcherFactory
from .events import BatchEvent
from .simulated import DEVICE as SIMULATED_DEVICE


def _nothing() -> None:
    return None


@dataclass
class Lease:
    stage: str
    device: str
    reserved_bytes: int
    hard_cap_bytes: int
    soft_limit_bytes: int
    reason: str
    lease_id: str | None = None
    memory_probe: Callable[[], int | None] = field(default=_nothing)
    clear_cache: Callable[[], None] = field(default=_nothing)
    before_batch: Callable[[str, int, int], None] | None = None
    """Called with (device, batch size, tokens) before each batch; the simulated device uses it."""

    @property
    def is_gpu(self) -> bool:
        return self.device != "cpu"

    def devices(self) -> list[str]:
        """The device chain a stage walks: the leased GPU first, then the CPU."""
        return [self.device, "cpu"] if self.is_gpu else ["cpu"]

    @staticmethod
    def torch_device(device: str) -> str:
        """Where tensors go for ``device``: the simulated GPU computes on the CPU."""
        return "cpu" if device == SIMULATED_DEVICE else device

    def batcher_factory(self, batch_size: int, min_batch: int = MIN_BATCH,
                        token_budget: int | None = None) -> BatcherFactory:
        def make(stage: str, device: str, on_event: Callable[[BatchEvent], None]) -> AdaptiveBatcher:
            on_gpu = device == self.device and self.is_gpu
            return AdaptiveBatcher(
                stage, device, batch_size, min_batch=min_batch,
                soft_limit_bytes=self.soft_limit_bytes if on_gpu else None,
                memory_probe=self.memory_probe if on_gpu else None,
                clear_cache=self.clear_cache if on_gpu else None,
                on_event=on_event, token_budget=token_budget,
            )

        return make


def cpu_lease(stage: str, reason: str = "cpu requested", hard_cap_bytes: int = 0, soft_limit_bytes: int = 0) -> Lease:
    return Lease(stage=stage, device="cpu", reserved_bytes=0, hard_cap_bytes=hard_cap_bytes,
                 soft_limit_bytes=soft_limit_bytes, reason=reason)


def place(model: Any, device: str) -> Any:
    """Move ``model`` to ``device`` when it is elsewhere (the simulated GPU computes on the CPU)."""
    target = Lease.torch_device(device)
    current = str(getattr(model, "device", "cpu"))
    if current != target and not (target == "cpu" and current.startswith("cpu")):
        model.to(target)
    return model
