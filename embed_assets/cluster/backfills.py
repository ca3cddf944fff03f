"""Backfills without a webserver, through the daemon: ``dagster job backfill`` creates one
queued run per partition (tagged ``dagster/backfill=<id>``), the daemon launches them, the
Celery executor sends their steps to the workers. Then, from the instance's event log: which
worker ran every step, which queue it was sent to, and how many models each step loaded."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, Field

from embed_assets.defs.definitions import JOB_NAME
from embed_assets.defs.steps import GPU_OPS

TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
_LAUNCHED = re.compile(r"Launched backfill job `([^`]+)`")
_QUEUE = re.compile(r'Submitting celery task for step "([^"]+)" to queue "([^"]+)"')


class BackfillError(RuntimeError):
    """A backfill could not be launched or did not finish in time."""


def launch_backfill(env: dict[str, str], workspace: Path, partitions: list[str], tags: dict[str, str] | None = None,
                    cwd: Path | None = None) -> subprocess.Popen:
    """Start ``dagster job backfill`` (the CLI builds the runs; the daemon launches them)."""
    dagster = str(Path(sys.executable).parent / "dagster")
    argv = [dagster, "job", "backfill", "-w", str(workspace), "-j", JOB_NAME, "--partitions", ",".join(partitions),
            "--noprompt"] + (["--tags", json.dumps(tags)] if tags else [])
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def backfill_id(process: subprocess.Popen, timeout_s: float = 300) -> str:
    out, _ = process.communicate(timeout=timeout_s)
    found = _LAUNCHED.search(out or "")
    if process.returncode != 0 or found is None:
        raise BackfillError(f"dagster job backfill failed ({process.returncode}): {(out or '')[-2000:]}")
    return found.group(1)


def wait_for_runs(instance: dg.DagsterInstance, backfill_ids: list[str], expected_runs: int,
                  timeout_s: float = 900, poll_s: float = 2.0) -> list[dg.DagsterRun]:
    """The backfills' runs, once all ``expected_runs`` of them have finished."""
    deadline = time.monotonic() + timeout_s
    while True:
        runs = [r for b in backfill_ids for r in instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": b}))]
        if len(runs) >= expected_runs and all(r.status in TERMINAL for r in runs):
            return runs
        if time.monotonic() > deadline:
            states = Counter(r.status.value for r in runs)
            raise BackfillError(f"backfills {backfill_ids} not done after {timeout_s:.0f}s: {dict(states)}")
        time.sleep(poll_s)


class StepRecord(BaseModel):
    run_id: str
    partition: str
    step: str
    worker: str | None = None
    queue: str | None = None
    model_loads: int = 0

    @property
    def gpu(self) -> bool:
        return any(f".{op}[" in self.step or self.step.endswith(f".{op}") for op in GPU_OPS)


class StepReport(BaseModel):
    steps: list[StepRecord] = Field(default_factory=list)

    def by_worker(self) -> dict[str, int]:
        return dict(sorted(Counter(s.worker or "?" for s in self.steps).items()))

    def model_loads_by_worker(self) -> dict[str, int]:
        loads: dict[str, int] = defaultdict(int)
        for s in self.steps:
            loads[s.worker or "?"] += s.model_loads
        return dict(sorted(loads.items()))

    def gpu_steps_by_worker(self, partition: str | None = None) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for s in self.steps:
            if s.gpu and (partition is None or s.partition == partition):
                out[s.worker or "?"].append(s.step)
        return {k: sorted(v) for k, v in sorted(out.items())}


def _step_records(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[StepRecord]:
    steps: dict[str, StepRecord] = {}
    partition = run.tags.get("dagster/partition", "")

    def record(key: str) -> StepRecord:
        return steps.setdefault(key, StepRecord(run_id=run.run_id, partition=partition, step=key))

    for entry in instance.all_logs(run.run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None and event.event_type != dg.DagsterEventType.ENGINE_EVENT:
            continue
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT:
            routed = _QUEUE.search(event.message or "")
            if routed:
                record(routed.group(1)).queue = routed.group(2)
            worker = (event.engine_event_data.metadata or {}).get("Celery worker") if event.engine_event_data else None
            if worker is not None and entry.step_key:
                record(entry.step_key).worker = str(worker.value)
        elif event.event_type == dg.DagsterEventType.STEP_OUTPUT:
            loads = event.step_output_data.metadata.get("model_loads")
            if loads is not None:
                record(entry.step_key).model_loads += int(loads.value)  # type: ignore[arg-type]
    return list(steps.values())


def step_report(instance: dg.DagsterInstance, runs: list[dg.DagsterRun]) -> StepReport:
    return StepReport(steps=[s for run in runs for s in _step_records(instance, run)])
