"""``DagsterRunner``: register partitions and materialize a collection in this process,
quietly, turning Dagster's result into a :class:`RunOutcome`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field

from embed_assets.defs.definitions import JOB_NAME, build_definitions
from embed_assets.defs.partitions import COLLECTIONS


class RunOutcome(BaseModel):
    """What a run did, in plain values."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: str
    run_id: str
    success: bool
    wall_s: float
    materialized: set[str] = Field(default_factory=set)
    checks: dict[str, bool] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list, description="'step: first line of its error' per failed step.")
    index: dict[str, Any] = Field(default_factory=dict, description="The vector_index materialization's metadata.")
    result: Any = Field(default=None, exclude=True, description="Dagster's own result, for callers that need more.")

    @property
    def ok(self) -> bool:
        return self.success and all(self.checks.values())

    @classmethod
    def of(cls, collection: str, result: dg.ExecuteInProcessResult, wall_s: float) -> RunOutcome:
        failures = []
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                message = (error.message if error else event.message or "").strip().splitlines()
                failures.append(f"{event.step_key}: {message[0] if message else 'failed'}")
        return cls(collection=collection, run_id=result.run_id, success=result.success, wall_s=wall_s,
                   materialized={e.asset_key.to_user_string() for e in result.get_asset_materialization_events()},
                   checks={e.check_name: e.passed for e in result.get_asset_check_evaluations()},
                   failures=failures, index=_metadata_of(result, "vector_index"), result=result)


def _metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """An asset's materialization metadata as plain values (empty when it did not materialize)."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset:
            metadata = event.materialization.metadata
            return {k: getattr(v, "value", v) for k, v in metadata.items() if not k.startswith("dagster/")}
    return {}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class DagsterRunner:
    """Materializes collections with the ``embed_collections`` job on one instance."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions, log_level: str = "WARNING") -> None:
        self.instance = instance
        self.definitions = definitions
        self.job = definitions.resolve_job_def(JOB_NAME)
        self.base_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}

    @classmethod
    def for_data_root(cls, instance: dg.DagsterInstance, data_root: Path | None = None,
                      export_root: Path | None = None, log_level: str = "WARNING", **resources: Any) -> DagsterRunner:
        return cls(instance, build_definitions(data_root=data_root, export_root=export_root, **resources), log_level)

    def register(self, collections: Sequence[str]) -> list[str]:
        """Add the collections that are not partitions yet; returns the new ones."""
        known = set(self.instance.get_dynamic_partitions(COLLECTIONS))
        new = [c for c in collections if c not in known]
        if new:
            self.instance.add_dynamic_partitions(COLLECTIONS, new)
        return new

    def materialize(self, collection: str, *, tags: dict[str, str] | None = None,
                    run_config: dict[str, Any] | None = None) -> RunOutcome:
        self.register([collection])
        started = time.perf_counter()
        result = self.job.execute_in_process(partition_key=collection, instance=self.instance, tags=tags or {},
                                             run_config=_merge(self.base_config, run_config or {}),
                                             raise_on_error=False)
        return RunOutcome.of(collection, result, time.perf_counter() - started)
