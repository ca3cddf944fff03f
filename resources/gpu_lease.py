"""``GpuLeaseResource``: grants a device to a stage under a host-wide VRAM ceiling.

A lease is a context manager. It grants a GPU when one exists (CUDA, or the simulated
device selected by ``EMBED_ASSETS_SIMULATED_GPU``) and the stage's reservation fits
under the hard cap across every process on the host (a file-locked ledger), and the
CPU otherwise, saying why. The lease carries the soft limit, a memory probe and a
cache-clearing hook for the adaptive batcher, and releases its reservation on exit,
also on exceptions.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from pydantic import Field

from embed_assets.core.devices.lease import Lease
from embed_assets.core.devices.leases import Heartbeat, LeaseLedger
from embed_assets.core.devices.simulated import DEVICE as SIMULATED_DEVICE
from embed_assets.core.devices.simulated import SimulatedGpu, simulated_gpu
from embed_assets.core.settings import get_settings

GB = 1024**3
log = logging.getLogger(__name__)


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def _nvml_handle() -> object | None:
    """NVML's handle of device 0, or None without NVML (no driver, no library)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception:  # noqa: BLE001
        return None


class GpuLeaseResource(dg.ConfigurableResource):
    """VRAM ceiling for every GPU stage (dense, sparse, rerank) on this host."""

    hard_cap_gb: float = Field(default=12.0, gt=0, description="Hard cap on reserved VRAM across all stages.")
    soft_limit_gb: float = Field(default=10.0, gt=0, description="Above this measured usage batches are halved.")
    device: str = Field(default="auto", description="'auto' (a GPU when present), 'cpu' or 'cuda'.")
    simulated: str | None = Field(default=None, description="Simulated GPU spec; default $EMBED_ASSETS_SIMULATED_GPU.")
    ledger_dir: str | None = Field(default=None, description="Folder of the host-wide lease ledger; default "
                                                             "$DAGSTER_HOME/gpu_leases.")
    wait_timeout_s: float = Field(default=30.0, ge=0, description="How long to wait for room before using the CPU.")
    lease_ttl_s: float = Field(default=120.0, gt=0, description="A lease whose holder stops heartbeating (hung) "
                                                                "is reclaimed after this long.")

    @property
    def hard_cap_bytes(self) -> int:
        return int(self.hard_cap_gb * GB)

    @property
    def soft_limit_bytes(self) -> int:
        return int(min(self.soft_limit_gb, self.hard_cap_gb) * GB)

    def simulated_device(self) -> SimulatedGpu | None:
        spec = self.simulated if self.simulated is not None else get_settings().simulated_gpu
        return simulated_gpu(spec, self.hard_cap_bytes)

    @property
    def device_kind(self) -> str:
        """What a GPU lease would grant here: 'simulated', 'cuda' or 'cpu'."""
        if self.device == "cpu":
            return "cpu"
        if self.simulated_device() is not None:
            return "simulated"
        return "cuda" if _cuda_available() else "cpu"

    def ledger(self) -> LeaseLedger:
        folder = Path(self.ledger_dir) if self.ledger_dir else get_settings().resolved_dagster_home / "gpu_leases"
        return LeaseLedger(folder, ttl_s=self.lease_ttl_s)

    def _lease(self, stage: str, device: str, reserved: int, reason: str, **hooks: object) -> Lease:
        return Lease(stage=stage, device=device, reserved_bytes=reserved, hard_cap_bytes=self.hard_cap_bytes,
                     soft_limit_bytes=self.soft_limit_bytes, reason=reason, **hooks)  # type: ignore[arg-type]

    def _cpu_lease(self, stage: str, reason: str) -> Lease:
        """A CPU lease; with the simulated device configured, its CPU faults (``cpu_oom_after``)
        apply to this stage's CPU batches too."""
        sim = self.simulated_device()
        if sim is None:
            return self._lease(stage, "cpu", 0, reason)
        sim.reset_calls(stage)
        return self._lease(stage, "cpu", 0, reason, before_batch=lambda d, b, t: sim.before_batch(stage, d, b, t))

    @contextlib.contextmanager
    def lease(self, stage: str, estimated_bytes: int, *, want_gpu: bool = True) -> Iterator[Lease]:
        """Grant a device for ``stage``; released on exit, also on exceptions."""
        kind = self.device_kind if want_gpu else "cpu"
        if kind == "cpu":
            yield self._cpu_lease(stage, "cpu requested" if not want_gpu or self.device == "cpu"
                                  else "no GPU on this host")
            return
        device = SIMULATED_DEVICE if kind == "simulated" else "cuda:0"
        reserved = min(int(estimated_bytes), self.hard_cap_bytes)
        ledger = self.ledger()
        entry = ledger.acquire(stage, device, reserved, self.hard_cap_bytes, self.wait_timeout_s)
        if entry is None:
            held = sum(e.reserved_bytes for e in ledger.held(device))
            log.warning("%s: no VRAM room (%.2f GB held of %.2f GB); using the CPU", stage, held / GB,
                        self.hard_cap_bytes / GB)
            yield self._cpu_lease(stage, f"VRAM budget exhausted ({held / GB:.2f} GB held on this host)")
            return
        try:
            with Heartbeat(ledger, entry.lease_id):
                yield self._granted(kind, stage, device, reserved, entry.lease_id)
        finally:
            ledger.release(entry.lease_id)

    def _granted(self, kind: str, stage: str, device: str, reserved: int, lease_id: str) -> Lease:
        if kind != "simulated":
            return self._cuda_lease(stage, reserved, lease_id)
        sim = self.simulated_device()
        assert sim is not None
        sim.reset_calls(stage)
        return self._lease(stage, device, reserved, "granted (simulated device)", lease_id=lease_id,
                           memory_probe=sim.memory_used, clear_cache=sim.clear_cache,
                           before_batch=lambda d, b, t: sim.before_batch(stage, d, b, t))

    def _cuda_lease(self, stage: str, reserved: int, lease_id: str) -> Lease:
        import torch

        total = torch.cuda.get_device_properties(0).total_memory
        # The hard cap is enforced by the allocator too, not only by the ledger.
        torch.cuda.set_per_process_memory_fraction(min(1.0, self.hard_cap_bytes / total), 0)
        torch.cuda.reset_peak_memory_stats(0)

        nvml_handle = _nvml_handle()  # once per lease, not once per batch

        def probe() -> int:
            used = int(torch.cuda.memory_reserved(0))
            if nvml_handle is not None:
                import pynvml

                with contextlib.suppress(Exception):  # NVML sees the driver's view; degrade quietly
                    for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(nvml_handle):
                        if proc.pid == os.getpid() and proc.usedGpuMemory:
                            used = max(used, int(proc.usedGpuMemory))
            return used

        return self._lease(stage, "cuda:0", reserved, "granted", lease_id=lease_id, memory_probe=probe,
                           clear_cache=torch.cuda.empty_cache)
