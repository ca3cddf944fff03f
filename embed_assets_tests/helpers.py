"""Helpers shared by the tests: the repository, the bundled samples, and materializing a
collection through the same runner the command line uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from embed_assets.core.storage.exports import MANIFEST_NAME
from embed_assets.runs.runner import DagsterRunner, RunOutcome

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "collections"


def materialize_collection(instance: dg.DagsterInstance, data_root: Path, collection: str, *,
                           tags: dict[str, str] | None = None, run_config: dict[str, Any] | None = None,
                           **resources: Any) -> RunOutcome:
    runner = DagsterRunner.for_data_root(instance, data_root=data_root, **resources)
    return runner.materialize(collection, tags=tags, run_config=run_config)


def read_manifest(data_root: Path, collection: str) -> dict[str, Any]:
    return json.loads((data_root / "exports" / collection / MANIFEST_NAME).read_text("utf-8"))


def materialized(outcome: RunOutcome) -> set[str]:
    return outcome.materialized


def checks(outcome: RunOutcome) -> dict[str, bool]:
    return outcome.checks
