"""Dagster resources of embed_assets: GPU leasing and model management."""

from .gpu_lease import GpuLeaseResource
from .model_manager import DenseModelConfig, ModelManagerResource

__all__ = ["DenseModelConfig", "GpuLeaseResource", "ModelManagerResource"]
