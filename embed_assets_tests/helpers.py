"""Helpers shared by the tests: the repository, the bundled samples, and materializing a
collection through the same runner the command line uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from embed_assets.core.storage.exports import MANIFEST_NAME
from embed_assets.runs.runner import DagsterRunner, RunOutcome

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "collections"


def materialize_collection(instance: dg.DagsterInstance, data_root: Path, collection: str, *,
                           tags: dict[str, str] | None = None, run_config: dict[str, Any] | None = None,
                           assets: list[str] | None = None, **resources: Any) -> RunOutcome:
    runner = DagsterRunner.for_data_root(instance, data_root=data_root, **resources)
    return runner.materialize(collection, tags=tags, run_config=run_config, assets=assets)


def run_cli(args: list[str], home: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess[str]:
    """``embed-collections ARGS`` in a fresh process with its own Dagster home."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("EMBED_ASSETS_") or k == "EMBED_ASSETS_MODEL_CACHE"}
    full_env.update({"DAGSTER_HOME": str(home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **env})
    return subprocess.run([sys.executable, "-m", "embed_assets.cli", *args], env=full_env, capture_output=True,
                          text=True, cwd=REPO, timeout=timeout)


def read_manifest(data_root: Path, collection: str) -> dict[str, Any]:
    return json.loads((data_root / "exports" / collection / MANIFEST_NAME).read_text("utf-8"))


def materialized(outcome: RunOutcome) -> set[str]:
    return outcome.materialized


def checks(outcome: RunOutcome) -> dict[str, bool]:
    return outcome.checks
