"""The code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from embed_assets.core import settings
from embed_assets.core.models import DEFAULT_SPARSE_MODEL
from embed_assets.core.telemetry import configure_from_env
from resources import DenseModelConfig, GpuLeaseResource, ModelManagerResource

from .assets import ALL_ASSETS
from .checks import ALL_CHECKS
from .io_manager import ParquetIOManager
from .partitions import collections_partitions
from .resources import PathsResource, QualityGatesResource
from .sensors import collection_folders_sensor

JOB_NAME = "embed_collections"

embed_collections_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.assets(*ALL_ASSETS),
    partitions_def=collections_partitions,
    description="Materialize every asset of a collection, with its checks.",
)


def _dense_models_from_env() -> list[DenseModelConfig]:
    """``EMBED_ASSETS_DENSE_MODELS="ref[:weight],ref[:weight]"``; default: the packaged MiniLM."""
    raw = os.environ.get("EMBED_ASSETS_DENSE_MODELS", "").strip()
    if not raw:
        return [DenseModelConfig()]
    out = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        ref, sep, weight = item.rpartition(":")
        try:
            out.append(DenseModelConfig(ref=ref, weight=float(weight)) if sep else DenseModelConfig(ref=item))
        except ValueError:  # a colon that is part of the reference, not a weight
            out.append(DenseModelConfig(ref=item))
    return out


def build_resources(data_root: Path | None = None, export_root: Path | None = None,
                    model_manager: ModelManagerResource | None = None,
                    gates: QualityGatesResource | None = None,
                    gpu: GpuLeaseResource | None = None) -> dict[str, object]:
    root = (data_root or settings.data_root()).resolve()
    exports = export_root or (settings.export_root() if data_root is None else None)
    return {
        "paths": PathsResource(data_root=str(root), export_root=str(exports) if exports else None),
        "io_manager": ParquetIOManager(base_dir=str(settings.storage_root(root))),
        "model_manager": model_manager or ModelManagerResource(
            dense_models=_dense_models_from_env(),
            sparse_model=os.environ.get("EMBED_ASSETS_SPARSE_MODEL", DEFAULT_SPARSE_MODEL),
        ),
        "gpu": gpu or GpuLeaseResource(),
        "gates": gates or QualityGatesResource(),
    }


def default_executor() -> dg.ExecutorDefinition:
    """In-process by default: the graph is a chain, and one process loads each model once.
    ``EMBED_ASSETS_EXECUTOR=multiprocess`` runs each step in its own process; on a cluster,
    swap in the Kubernetes or Celery executor — the definitions stay the same."""
    choice = os.environ.get("EMBED_ASSETS_EXECUTOR", "in_process")
    if choice == "multiprocess":
        return dg.multiprocess_executor
    if choice != "in_process":
        raise ValueError(f"EMBED_ASSETS_EXECUTOR={choice!r}: use 'in_process' or 'multiprocess'")
    return dg.in_process_executor


def build_definitions(**kwargs: object) -> dg.Definitions:
    return dg.Definitions(
        executor=default_executor(),
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=[embed_collections_job],
        sensors=[collection_folders_sensor],
        resources=build_resources(**kwargs),  # type: ignore[arg-type]
    )


configure_from_env()
defs = build_definitions()
