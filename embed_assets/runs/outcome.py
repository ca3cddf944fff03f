"""What a run did, in plain values: success, materialized assets, check results (failed
WARN checks kept apart: they do not fail a run), and each failed step's real cause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field


def failure_cause(event: dg.DagsterEvent) -> str:
    """The first line of a step failure's real cause: under Dagster's own wrappers ("Error
    occurred while executing op"), the user code's error."""
    error = event.step_failure_data.error
    while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    lines = (error.message if error else event.message or "").strip().splitlines()
    return lines[0] if lines else "failed"


def _problems(evaluation: Any) -> str:
    problems = evaluation.metadata.get("problems")
    return str(problems.value if problems is not None else "failed").replace("\n", "; ")


class RunOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    collection: str
    run_id: str
    success: bool
    wall_s: float
    materialized: set[str] = Field(default_factory=set)
    checks: dict[str, bool] = Field(default_factory=dict)
    warnings: dict[str, str] = Field(default_factory=dict, description="Failed checks of WARN severity: their "
                                                                       "problems. They do not fail the run.")
    failures: list[str] = Field(default_factory=list, description="'step: first line of its cause' per failed step.")
    index: dict[str, Any] = Field(default_factory=dict, description="The vector_index materialization's metadata.")
    evaluations: list[Any] = Field(default_factory=list, exclude=True, description="Dagster's check evaluations.")

    @property
    def ok(self) -> bool:
        return self.success and all(passed or name in self.warnings for name, passed in self.checks.items())

    def evaluation(self, check_name: str) -> Any:
        return next(e for e in self.evaluations if e.check_name == check_name)

    @classmethod
    def of(cls, collection: str, run: dg.DagsterRun, events: Sequence[dg.DagsterEvent], wall_s: float) -> RunOutcome:
        evaluations = [e.event_specific_data for e in events
                       if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
        return cls(
            collection=collection, run_id=run.run_id, success=run.status == dg.DagsterRunStatus.SUCCESS, wall_s=wall_s,
            materialized={e.asset_key.to_user_string() for e in events if e.is_step_materialization and e.asset_key},
            checks={e.check_name: e.passed for e in evaluations},
            warnings={e.check_name: _problems(e) for e in evaluations
                      if not e.passed and e.severity == dg.AssetCheckSeverity.WARN},
            failures=[f"{e.step_key}: {failure_cause(e)}" for e in events if e.is_step_failure],
            index=_metadata_of(events, "vector_index"), evaluations=evaluations)


def _metadata_of(events: Sequence[dg.DagsterEvent], asset: str) -> dict[str, Any]:
    """An asset's materialization metadata as plain values (empty when it did not materialize)."""
    for event in events:
        if event.is_step_materialization and event.asset_key and event.asset_key.to_user_string() == asset:
            metadata = event.step_materialization_data.materialization.metadata
            return {k: getattr(v, "value", v) for k, v in metadata.items() if not k.startswith("dagster/")}
    return {}
