"""Shared fixtures: real tiny models, real Parquet files, a real temporary Dagster instance."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _name in [n for n in os.environ if n.startswith("EMBED_ASSETS_")]:  # tests start from the defaults
    os.environ.pop(_name)
# Exported graphs are built once per test session, in a folder of its own (never the user's cache).
MODEL_CACHE = tempfile.mkdtemp(prefix="embed-assets-model-cache-")
os.environ["EMBED_ASSETS_MODEL_CACHE"] = MODEL_CACHE
atexit.register(shutil.rmtree, MODEL_CACHE, True)

import dagster as dg  # noqa: E402
import pytest  # noqa: E402

from .helpers import SAMPLES  # noqa: E402

warnings.filterwarnings("ignore", category=dg.PreviewWarning if hasattr(dg, "PreviewWarning") else Warning)


@pytest.fixture(scope="session")
def span_exporter() -> Any:
    """An in-memory OpenTelemetry exporter installed as the global tracer provider."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from embed_assets.core.telemetry import id_generator

    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=id_generator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(SAMPLES, root / "collections")
    return root
