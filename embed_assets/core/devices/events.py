"""Batch events: every batch-size change, soft-limit exceedance and device move, for the
manifest's counts, the Dagster event log and the stage's OpenTelemetry span."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from ..telemetry import add_span_event

BatchEventKind = Literal["halve_on_oom", "halve_on_soft_limit", "grow", "floor_reached", "device_fallback",
                         "metadata_fallback"]


class BatchEvent(BaseModel):
    """One batch-size change, soft-limit exceedance or device move, for telemetry."""

    stage: str
    device: str
    kind: BatchEventKind
    old_batch_size: int
    new_batch_size: int
    position: int
    memory_used_bytes: int | None = None
    soft_limit_bytes: int | None = None
    detail: str = ""

    def describe(self) -> str:
        return (f"{self.stage} on {self.device}: {self.kind} {self.old_batch_size} → {self.new_batch_size} "
                f"at item {self.position} {self.detail}").strip()


class EventLog:
    """Collects a stage's events and forwards each one as it happens."""

    def __init__(self, forward: Callable[[BatchEvent], None] | None = None) -> None:
        self.events: list[BatchEvent] = []
        self.forward = forward

    def __call__(self, event: BatchEvent) -> None:
        self.events.append(event)
        if self.forward is not None:
            self.forward(event)


def record_batch_event(event: BatchEvent) -> None:
    """A batch event as an event on the current span."""
    attrs: dict[str, str | int] = {
        "stage": event.stage, "device": event.device, "old_batch_size": event.old_batch_size,
        "new_batch_size": event.new_batch_size, "position": event.position,
    }
    if event.memory_used_bytes is not None:
        attrs["vram_used_bytes"] = event.memory_used_bytes
    if event.soft_limit_bytes is not None:
        attrs["vram_soft_limit_bytes"] = event.soft_limit_bytes
    add_span_event(f"batch.{event.kind}", attrs)
