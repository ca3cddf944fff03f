"""OpenTelemetry spans for stages (API only: a no-op unless an SDK is configured).

Every asset of a Dagster run opens its span under one parent derived from the run id,
so the spans of all steps — even from separate processes — form one trace per run.
Attributes are ids, counts, devices, batch sizes and latencies: never chunk text.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from .batching import BatchEvent

tracer = trace.get_tracer("embed_assets")
AttributeValue = str | bool | int | float


def run_context(run_id: str) -> Any:
    """A remote parent whose trace id is the run's UUID, shared by every step of the run."""
    hex_id = uuid.UUID(run_id).hex
    parent = SpanContext(trace_id=int(hex_id, 16), span_id=int(hex_id[:16], 16) or 1, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


@contextlib.contextmanager
def stage_span(name: str, run_id: str, partition: str, **attributes: AttributeValue) -> Iterator[trace.Span]:
    attrs: dict[str, AttributeValue] = {"dagster.run_id": run_id, "embed_assets.collection": partition, **attributes}
    with tracer.start_as_current_span(f"embed_assets.{name}", context=run_context(run_id), attributes=attrs) as span:
        yield span


@contextlib.contextmanager
def child_span(name: str, **attributes: AttributeValue) -> Iterator[trace.Span]:
    with tracer.start_as_current_span(f"embed_assets.{name}", attributes=attributes) as span:
        yield span


def set_attributes(span: trace.Span, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, (str, bool, int, float)):
            span.set_attribute(f"embed_assets.{key}", value)


def record_batch_event(event: BatchEvent) -> None:
    """A batch-size change, soft-limit exceedance or fallback, as an event on the current span."""
    attrs: dict[str, AttributeValue] = {
        "stage": event.stage, "device": event.device, "old_batch_size": event.old_batch_size,
        "new_batch_size": event.new_batch_size, "position": event.position,
    }
    if event.memory_used_bytes is not None:
        attrs["vram_used_bytes"] = event.memory_used_bytes
    if event.soft_limit_bytes is not None:
        attrs["vram_soft_limit_bytes"] = event.soft_limit_bytes
    trace.get_current_span().add_event(f"batch.{event.kind}", attributes=attrs)
