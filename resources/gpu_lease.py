"""``GpuLeaseResource``: grants a device to a stage under a host-wide VRAM ceiling.

A lease is a context manager. It grants a CUDA device when one exists and the
reservation fits under the hard cap across every process on the host (the ledger),
and the CPU otherwise, saying why. The lease carries the soft limit, a memory probe
and a cache-clearing hook for the adaptive batcher.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from pydantic import Field

from embed_assets.core.batching import MIN_BATCH, AdaptiveBatcher, BatcherFactory, BatchEvent
from embed_assets.core.leases import LeaseLedger
from embed_assets.core.settings import dagster_home

GB = 1024**3
log = logging.getLogger(__name__)


@dataclass
class Lease:
    stage: str
    device: str
    reserved_bytes: int
    hard_cap_bytes: int
    soft_limit_bytes: int
    reason: str
    lease_id: str | None = None
    memory_probe: Callable[[], int | None] = field(default=lambda: None)
    clear_cache: Callable[[], None] = field(default=lambda: None)

    @property
    def is_gpu(self) -> bool:
        return self.device != "cpu"

    def devices(self) -> list[str]:
        """The device chain a stage walks: the leased GPU first, then the CPU."""
        return [self.device, "cpu"] if self.is_gpu else ["cpu"]

    def batcher_factory(self, batch_size: int, min_batch: int = MIN_BATCH) -> BatcherFactory:
        def make(stage: str, device: str, on_event: Callable[[BatchEvent], None]) -> AdaptiveBatcher:
            on_gpu = device == self.device and self.is_gpu
            return AdaptiveBatcher(
                stage, device, batch_size, min_batch=min_batch,
                soft_limit_bytes=self.soft_limit_bytes if on_gpu else None,
                memory_probe=self.memory_probe if on_gpu else None,
                clear_cache=self.clear_cache if on_gpu else None,
                on_event=on_event,
            )

        return make


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


class GpuLeaseResource(dg.ConfigurableResource):
    """VRAM ceiling for every GPU stage (dense, sparse, rerank) on this host."""

    hard_cap_gb: float = Field(default=12.0, gt=0, description="Hard cap on reserved VRAM across all stages.")
    soft_limit_gb: float = Field(default=10.0, gt=0, description="Above this measured usage batches are halved.")
    device: str = Field(default="auto", description="'auto' (CUDA when present), 'cpu' or 'cuda'.")
    ledger_dir: str | None = Field(default=None, description="Folder of the host-wide lease ledger.")
    wait_timeout_s: float = Field(default=30.0, ge=0, description="How long to wait for room before using the CPU.")

    @property
    def hard_cap_bytes(self) -> int:
        return int(self.hard_cap_gb * GB)

    @property
    def soft_limit_bytes(self) -> int:
        return int(min(self.soft_limit_gb, self.hard_cap_gb) * GB)

    def ledger(self) -> LeaseLedger:
        return LeaseLedger(Path(self.ledger_dir) if self.ledger_dir else dagster_home() / "gpu_leases")

    def _cpu(self, stage: str, reason: str) -> Lease:
        return Lease(stage=stage, device="cpu", reserved_bytes=0, hard_cap_bytes=self.hard_cap_bytes,
                     soft_limit_bytes=self.soft_limit_bytes, reason=reason)

    @contextlib.contextmanager
    def lease(self, stage: str, estimated_bytes: int, *, want_gpu: bool = True) -> Iterator[Lease]:
        """Grant a device for ``stage``; released on exit, also on exceptions."""
        if not want_gpu or self.device == "cpu":
            yield self._cpu(stage, "cpu requested")
            return
        if not _cuda_available():
            yield self._cpu(stage, "no CUDA device")
            return
        import torch

        ledger = self.ledger()
        entry = ledger.acquire(stage, "cuda:0", int(estimated_bytes), self.hard_cap_bytes, self.wait_timeout_s)
        if entry is None:
            yield self._cpu(stage, "VRAM budget exhausted on this host")
            return
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, self.hard_cap_bytes / total), 0)

        def probe() -> int:
            return int(torch.cuda.memory_reserved(0))

        def clear() -> None:
            torch.cuda.empty_cache()

        try:
            yield Lease(stage=stage, device="cuda:0", reserved_bytes=int(estimated_bytes),
                        hard_cap_bytes=self.hard_cap_bytes, soft_limit_bytes=self.soft_limit_bytes,
                        reason="granted", lease_id=entry.lease_id, memory_probe=probe, clear_cache=clear)
        finally:
            ledger.release(entry.lease_id)
            clear()
