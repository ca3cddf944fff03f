"""A simulated GPU, for exercising leases, VRAM limits and OOM handling on machines
without one. It is the only simulated part of the product: the computation itself runs
on the CPU, while this device accounts memory with a simple model and raises the same
``torch.OutOfMemoryError`` a CUDA allocator raises. The batching, device fallback and
lease code it drives are the real ones.

Selected for any command by ``EMBED_ASSETS_SIMULATED_GPU`` (read by the settings), e.g.
``memory_gb=16,oom_above_batch=8`` — keys:

- ``memory_gb``        device memory (default 16)
- ``weights_gb``       memory taken by resident model weights (default 0.5)
- ``bytes_per_token``  activation bytes per token in a batch (default 2_000_000)
- ``oom_above_batch``  every batch larger than this is out of memory
- ``oom_at_calls``     1-based batch calls that fail, separated by ``+`` (e.g. ``2+5``)
- ``oom_always``       ``1``: every batch on the device fails
- ``cpu_oom_after``    CPU batches of the chosen stages fail once this many succeeded (``0``: all fail);
                       exercises the sparse stage's metadata fallback
- ``stages``           stages to inject faults into, ``+``-separated (``dense``, ``sparse``; default both)
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, Field

ENV = "EMBED_ASSETS_SIMULATED_GPU"
DEVICE = "sim:0"
GB = 1024**3


class SimulatedGpuSpec(BaseModel):
    memory_gb: float = Field(default=16.0, gt=0)
    weights_gb: float = Field(default=0.5, ge=0)
    bytes_per_token: int = Field(default=2_000_000, ge=0)
    oom_above_batch: int | None = Field(default=None, ge=0)
    oom_at_calls: list[int] = Field(default_factory=list)
    oom_always: bool = False
    cpu_oom_after: int | None = Field(default=None, ge=0)
    stages: list[str] = Field(default_factory=lambda: ["dense", "sparse"])

    @classmethod
    def parse(cls, text: str) -> SimulatedGpuSpec:
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep:
                raise ValueError(f"{ENV}: {part!r} is not key=value")
            if key not in cls.model_fields:
                raise ValueError(f"{ENV}: unknown key {key!r}; known: {', '.join(cls.model_fields)}")
            if key in ("oom_at_calls", "stages"):
                values[key] = [int(v) if key == "oom_at_calls" else v for v in value.split("+") if v]
            elif key == "oom_always":
                values[key] = value.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[key] = value
        return cls.model_validate(values)


class SimulatedGpu:
    """One process's view of the simulated device."""

    def __init__(self, spec: SimulatedGpuSpec, hard_cap_bytes: int | None = None) -> None:
        self.spec = spec
        self.capacity = int(spec.memory_gb * GB)
        if hard_cap_bytes is not None:  # the allocator-level cap, like a per-process memory fraction
            self.capacity = min(self.capacity, hard_cap_bytes)
        self.calls: dict[str, int] = {}
        self.cpu_calls: dict[str, int] = {}
        self.used = 0
        self.peak = 0
        self._lock = threading.Lock()

    @property
    def total_memory(self) -> int:
        return int(self.spec.memory_gb * GB)

    def _stage_faulty(self, stage: str) -> bool:
        return stage.split(":")[0] in self.spec.stages

    def reset_calls(self, stage: str) -> None:
        """Start counting ``stage``'s batch calls from 1 (done when a lease is granted)."""
        self.calls[stage.split(":")[0]] = 0
        self.cpu_calls[stage.split(":")[0]] = 0

    def before_batch(self, stage: str, device: str, batch_size: int, tokens: int) -> None:
        """Called before each batch; raises the allocator's errors when the batch does not fit."""
        import torch

        family = stage.split(":")[0]
        if device == "cpu":
            if self.spec.cpu_oom_after is not None and self._stage_faulty(stage):
                done = self.cpu_calls.get(family, 0)
                if done >= self.spec.cpu_oom_after:
                    raise RuntimeError("[simulated] DefaultCPUAllocator: can't allocate memory")
                self.cpu_calls[family] = done + 1
            return
        with self._lock:
            self.calls[family] = call = self.calls.get(family, 0) + 1
            need = int(self.spec.weights_gb * GB) + tokens * self.spec.bytes_per_token
            faulty = self._stage_faulty(stage)
            injected = faulty and (
                self.spec.oom_always
                or (self.spec.oom_above_batch is not None and batch_size > self.spec.oom_above_batch)
                or call in self.spec.oom_at_calls
            )
            if injected or need > self.capacity:
                self.used = int(self.spec.weights_gb * GB)
                raise torch.OutOfMemoryError(
                    f"[simulated] CUDA out of memory. Tried to allocate {need / GB:.2f} GiB "
                    f"(capacity {self.capacity / GB:.2f} GiB, batch {batch_size}, {family} call {call})")
            self.used = need
            self.peak = max(self.peak, need)

    def memory_used(self) -> int:
        return self.used

    def clear_cache(self) -> None:
        self.used = int(self.spec.weights_gb * GB)


_DEVICES: dict[tuple[str, int | None], SimulatedGpu] = {}


def simulated_gpu(spec_text: str, hard_cap_bytes: int | None = None) -> SimulatedGpu | None:
    """The process's simulated device for ``spec_text`` (None when the spec is empty)."""
    if not spec_text.strip():
        return None
    key = (spec_text, hard_cap_bytes)
    if key not in _DEVICES:
        _DEVICES[key] = SimulatedGpu(SimulatedGpuSpec.parse(spec_text), hard_cap_bytes)
    return _DEVICES[key]
