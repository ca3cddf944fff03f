"""Shared fixtures: real tiny models, real Parquet files, a real temporary Dagster instance."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("EMBED_ASSETS_SPARSE", None)

import dagster as dg  # noqa: E402
import pytest  # noqa: E402

from embed_assets.defs.assets import ALL_ASSETS  # noqa: E402
from embed_assets.defs.checks import ALL_CHECKS  # noqa: E402
from embed_assets.defs.definitions import build_resources  # noqa: E402
from embed_assets.defs.partitions import COLLECTIONS  # noqa: E402

warnings.filterwarnings("ignore", category=dg.PreviewWarning if hasattr(dg, "PreviewWarning") else Warning)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "collections"


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


def materialize_collection(instance: dg.DagsterInstance, data_root: Path, collection: str, *,
                           tags: dict[str, str] | None = None, run_config: dict[str, Any] | None = None,
                           **resources: Any) -> dg.ExecuteInProcessResult:
    if not instance.has_dynamic_partition(COLLECTIONS, collection):
        instance.add_dynamic_partitions(COLLECTIONS, [collection])
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        instance=instance,
        partition_key=collection,
        resources=build_resources(data_root=data_root, **resources),
        tags=tags,
        run_config={**quiet, **(run_config or {})},
        raise_on_error=False,
    )


def read_manifest(data_root: Path, collection: str) -> dict[str, Any]:
    return json.loads((data_root / "exports" / collection / "processing_summary.json").read_text("utf-8"))


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
