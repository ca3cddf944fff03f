"""The code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here. It only
composes: assets, checks, the job, the sensor, and resources configured from the settings."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from embed_assets.core.settings import QDRANT_API_KEY_VARIABLE, Settings, get_settings, storage_root
from embed_assets.core.telemetry import configure
from embed_assets.resources import DenseModelConfig, GpuLeaseResource, ModelManagerResource

from .assets import ALL_ASSETS
from .checks import ALL_CHECKS
from .executors import build_executor
from .io_manager import ParquetIOManager
from .jobs import JOB_NAME, embed_collections_job
from .resources import FeaturesResource, PathsResource, QualityGatesResource, VectorIndexResource
from .sensors import collection_changes_sensor

__all__ = ["JOB_NAME", "build_definitions", "build_resources", "defs"]


def build_resources(data_root: Path | None = None, export_root: Path | None = None,
                    model_manager: ModelManagerResource | None = None,
                    gates: QualityGatesResource | None = None,
                    gpu: GpuLeaseResource | None = None, settings: Settings | None = None,
                    index: VectorIndexResource | None = None) -> dict[str, object]:
    settings = settings or get_settings()
    root = (data_root or settings.resolved_data_root).resolve()
    exports = export_root or settings.export_root_for(root)
    return {
        "index": index or index_resource(settings, root),
        "paths": PathsResource(data_root=str(root), export_root=str(exports)),
        "io_manager": ParquetIOManager(base_dir=str(storage_root(root))),
        "model_manager": model_manager or ModelManagerResource(
            dense_models=[DenseModelConfig(ref=m.ref, weight=m.weight) for m in settings.dense_model_refs],
            sparse_model=settings.sparse_model, sparse_on_gpu=settings.sparse_on_gpu,
            encoder_backend=settings.encoder_backend, dense_backend=settings.dense_backend,
            sparse_backend=settings.sparse_backend, model_cache=str(settings.resolved_model_cache),
            encoder_threads=settings.encoder_threads),
        "gpu": gpu or GpuLeaseResource(simulated=settings.simulated_gpu,
                                       ledger_dir=str(settings.gpu_ledger_dir) if settings.gpu_ledger_dir else None),
        "gates": gates or QualityGatesResource(strict_sparse=settings.strict_sparse),
        "features": FeaturesResource(sparse=settings.sparse, lexical=settings.lexical, shards=settings.shards),
    }


def index_resource(settings: Settings, data_root: Path | None = None) -> VectorIndexResource:
    """The vector index the settings describe. The API key goes in as a reference to its
    environment variable: Dagster resolves it when the resource starts, and shows only the
    variable's name wherever it displays resource configuration."""
    root = settings.index_root_for(data_root.resolve() if data_root else None)
    key = dg.EnvVar(QDRANT_API_KEY_VARIABLE) if settings.qdrant_api_key is not None else None
    return VectorIndexResource(index_root=str(root), url=settings.qdrant_url, api_key=key,  # type: ignore[arg-type]
                               prefix=settings.qdrant_prefix, store_text=settings.index_text,
                               lock_timeout_s=settings.index_lock_timeout_s)


def default_executor(settings: Settings) -> dg.ExecutorDefinition:
    """In-process by default; ``EMBED_ASSETS_EXECUTOR`` = multiprocess, celery or k8s (see
    :mod:`.executors`) — the definitions stay the same."""
    return build_executor(settings)


def build_definitions(**kwargs: object) -> dg.Definitions:
    settings = get_settings()
    return dg.Definitions(
        executor=default_executor(settings),
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[embed_collections_job],
        sensors=[collection_changes_sensor],
        resources=build_resources(settings=settings, **kwargs),  # type: ignore[arg-type]
    )


configure(get_settings().otel_traces_exporter, get_settings().otel_service_name)
defs = build_definitions()
