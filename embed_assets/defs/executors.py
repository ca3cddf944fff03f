"""The executor, chosen by ``EMBED_ASSETS_EXECUTOR``; the definitions stay the same on every one.

- ``in_process`` (default): the graph is a chain, and one process loads each model once.
- ``multiprocess``: each step in its own process on this host (models load per step).
- ``celery``: each step is a task on a broker (Redis by default), run by Celery workers on any
  host; GPU steps go to the ``gpu`` queue, the rest to ``dagster``. A worker's process runs
  many steps, so each model loads once per worker process.
- ``k8s``: each step is a Kubernetes job (models load per step pod); GPU steps request
  ``nvidia.com/gpu`` and tolerate GPU nodes' taint.

The ``gpu`` concurrency pool (instance-wide) bounds GPU steps on every executor.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from embed_assets.core.settings import Settings

from .steps import GPU_OPS

# A GPU step pod: one GPU, the usual taint of GPU node pools tolerated. Node selectors are the
# cluster's own (EMBED_ASSETS_K8S_GPU_STEP replaces this; see deploy/helm/values.yaml).
DEFAULT_K8S_GPU_STEP: dict[str, Any] = {
    "container_config": {"resources": {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"},
                                       "limits": {"memory": "16Gi", "nvidia.com/gpu": "1"}}},
    "pod_spec_config": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
}
K8S_CPU_STEP: dict[str, Any] = {
    "container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery executor's config: the broker and result backend the workers use too."""
    return {"broker": settings.celery_broker, "backend": settings.celery_backend}


def k8s_config(settings: Settings) -> dict[str, Any]:
    """The Kubernetes job executor's config: CPU steps by default, GPU pods for the GPU ops."""
    gpu = settings.k8s_gpu_step if settings.k8s_gpu_step is not None else DEFAULT_K8S_GPU_STEP
    return {"step_k8s_config": K8S_CPU_STEP, "per_step_k8s_config": {op: gpu for op in GPU_OPS}}


def build_executor(settings: Settings) -> dg.ExecutorDefinition:
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(celery_config(settings), name="celery")
    if settings.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_config(settings), name="k8s")
    return dg.in_process_executor
