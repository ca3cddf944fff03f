"""OpenTelemetry spans (API only: a no-op unless an SDK is configured).

One trace per Dagster run: its trace id is the run's UUID, so the spans of every step
— even from separate processes — land in the same trace, under one ``embed_assets.run``
span (emitted when the run's summary is written; its span id is derived from the run
id so that children can name it as parent before it exists). Inside each asset span,
child spans cover model loads, batches, fallbacks and exports. Attributes are ids,
counts, devices, batch sizes, latencies and VRAM figures: never chunk text.

``configure(exporter)`` installs the SDK when the exporter (``OTEL_TRACES_EXPORTER``, read
by the settings) is ``console`` or ``otlp`` (the OTLP exporter package must be installed
for the latter).
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

tracer = trace.get_tracer("embed_assets")
AttributeValue = str | bool | int | float
_FORCED_IDS: ContextVar[tuple[int, int] | None] = ContextVar("embed_assets_forced_ids", default=None)


def run_ids(run_id: str) -> tuple[int, int]:
    """(trace id, run span id) derived from a Dagster run id (hashed when it is not a UUID,
    as for a directly invoked asset)."""
    try:
        hex_id = uuid.UUID(run_id).hex
    except ValueError:
        hex_id = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:32]
    return int(hex_id, 16), int(hex_id[16:], 16) or 1


def run_context(run_id: str) -> Any:
    """A context whose parent is the run span (remote: it may be emitted by another process)."""
    trace_id, span_id = run_ids(run_id)
    parent = SpanContext(trace_id=trace_id, span_id=span_id, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def id_generator() -> Any:
    """An SDK id generator that gives the run span its derived ids (random ids otherwise)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunAwareIdGenerator(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            forced = _FORCED_IDS.get()
            return forced[0] if forced else super().generate_trace_id()

        def generate_span_id(self) -> int:
            forced = _FORCED_IDS.get()
            return forced[1] if forced else super().generate_span_id()

    return RunAwareIdGenerator()


def configure(exporter_name: str, service: str = "embed_assets") -> bool:
    """Install an SDK tracer provider for ``exporter_name``; False when none is asked for."""
    if exporter_name in ("", "none"):
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if exporter_name == "console":
        exporter: Any = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER={exporter_name!r}: use console, otlp or none")
    provider = TracerProvider(resource=Resource.create({"service.name": service}), id_generator=id_generator())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


@contextlib.contextmanager
def _span(name: str, context: Any, attributes: Mapping[str, AttributeValue]) -> Iterator[trace.Span]:
    # Exceptions are recorded by type only: a message could quote the text being encoded.
    with tracer.start_as_current_span(name, context=context, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            span.set_attribute("error.type", type(exc).__name__)
            raise


@contextlib.contextmanager
def stage_span(name: str, run_id: str, partition: str, **attributes: AttributeValue) -> Iterator[trace.Span]:
    """An asset's span, child of the run span."""
    attrs: dict[str, AttributeValue] = {"dagster.run_id": run_id, "embed_assets.collection": partition, **attributes}
    with _span(f"embed_assets.{name}", run_context(run_id), attrs) as span:
        yield span


@contextlib.contextmanager
def child_span(name: str, **attributes: AttributeValue) -> Iterator[trace.Span]:
    """A span inside the current one (model load, batch, fallback, export)."""
    with _span(f"embed_assets.{name}", None, {f"embed_assets.{k}": v for k, v in attributes.items()}) as span:
        yield span


def emit_run_span(run_id: str, partition: str, start_ns: int, end_ns: int, attributes: Mapping[str, Any]) -> None:
    """The run's root span, with the ids its children already point at."""
    token = _FORCED_IDS.set(run_ids(run_id))
    try:
        span = tracer.start_span("embed_assets.run", context=otel_context.Context(), start_time=start_ns,
                                 attributes={"dagster.run_id": run_id, "embed_assets.collection": partition})
    finally:
        _FORCED_IDS.reset(token)
    set_attributes(span, attributes)
    span.end(end_time=end_ns)


def set_attributes(span: trace.Span, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, (str, bool, int, float)):
            span.set_attribute(key if key.startswith(("embed_assets.", "dagster.")) else f"embed_assets.{key}", value)


def add_span_event(name: str, attributes: Mapping[str, AttributeValue]) -> None:
    """An event on the current span (a no-op without an SDK)."""
    trace.get_current_span().add_event(name, attributes=dict(attributes))
