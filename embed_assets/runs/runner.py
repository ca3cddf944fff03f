"""``DagsterRunner``: register partitions and materialize a collection in this process,
quietly, with a run record like the UI's, turning what happened into a :class:`RunOutcome`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from embed_assets.core.processes import ProcessRef
from embed_assets.core.settings import get_settings, storage_root
from embed_assets.core.storage.locks import CollectionBusy, collection_lock
from embed_assets.defs.definitions import JOB_NAME, build_definitions
from embed_assets.defs.partitions import COLLECTIONS

from .origin import execute_like_the_ui
from .outcome import RunOutcome

OWNER_TAG = "embed_assets/owner"
"""The process running an in-process run (host.pid.start): a later run marks the run failed when it is gone."""


PARTITION_TAG = "dagster/partition"
ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def mark_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Runs still created or STARTED whose in-process owner on this host is gone (killed):
    report them failed, so they neither stay 'started' nor hold their collection's claim
    forever. Returns their ids."""
    dead = []
    statuses = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTED]
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=statuses)):
        owner = ProcessRef.from_token(run.tags.get(OWNER_TAG, ""))
        if owner is not None and owner.alive() is False:
            instance.report_run_failed(run, f"the process running it (pid {owner.pid}) is gone")
            dead.append(run.run_id)
    return dead


def _others(instance: dg.DagsterInstance, collection: str, mine: dg.DagsterRun | None) -> list[dg.DagsterRun]:
    """Runs of ``collection`` that go before ``mine``: every starting or started one, and the
    command line's runs created before it that have not started yet (their claim is older)."""
    statuses = [*ACTIVE, dg.DagsterRunStatus.NOT_STARTED] if mine is not None else ACTIVE
    records = instance.get_run_records(filters=dg.RunsFilter(tags={PARTITION_TAG: collection}, statuses=statuses))
    own = next((r.storage_id for r in records if mine is not None and r.dagster_run.run_id == mine.run_id), None)
    return [r.dagster_run for r in records
            if mine is None or r.dagster_run.run_id != mine.run_id and (
                r.dagster_run.status in ACTIVE
                or OWNER_TAG in r.dagster_run.tags and own is not None and r.storage_id < own)]


def wait_for_other_runs(instance: dg.DagsterInstance, collection: str, timeout_s: float | None = None,
                        on_wait: Any = None, poll_s: float = 1.0, mine: dg.DagsterRun | None = None) -> None:
    """Wait while another run of ``collection`` is going on this instance: on a shared
    (PostgreSQL) instance that includes runs of other hosts and runs the daemon launched.
    With ``mine`` (this process's run, created and not started), runs of other command lines
    created earlier go first too: two hosts that check at the same moment both see both
    claims, and the older one runs first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    told = False
    while True:
        active = _others(instance, collection, mine)
        if not active:
            return
        if on_wait is not None and not told:
            on_wait(f"{collection} is being materialized by run {active[0].run_id[:8]}; waiting for it to finish")
            told = True
        if deadline is not None and time.monotonic() >= deadline:
            raise CollectionBusy(f"{collection} is still being materialized by run {active[0].run_id[:8]}; "
                                 "try again when it has finished")
        time.sleep(poll_s)


class DagsterRunner:
    """Materializes collections with the ``embed_collections`` job on one instance, one run
    per collection at a time: a file lock per collection beside the intermediate storage
    (processes of this host, or of every host sharing the storage), then no run of the
    collection going on the instance (every host sharing a PostgreSQL instance)."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions, log_level: str = "WARNING",
                 lock_dir: Path | None = None, on_wait: Any = None, lock_timeout_s: float | None = None) -> None:
        self.instance = instance
        self.definitions = definitions
        self.job = definitions.resolve_job_def(JOB_NAME)
        self.base_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        self.lock_dir = lock_dir or storage_root(get_settings().resolved_data_root) / ".locks"
        self.on_wait = on_wait
        self.lock_timeout_s = lock_timeout_s

    @classmethod
    def for_data_root(cls, instance: dg.DagsterInstance, data_root: Path | None = None,
                      export_root: Path | None = None, log_level: str = "WARNING", **resources: Any) -> DagsterRunner:
        root = (data_root or get_settings().resolved_data_root).resolve()
        options = {k: resources.pop(k) for k in ("on_wait", "lock_timeout_s") if k in resources}
        return cls(instance, build_definitions(data_root=root, export_root=export_root, **resources), log_level,
                   lock_dir=storage_root(root) / ".locks", **options)

    def register(self, collections: Sequence[str]) -> list[str]:
        """Add the collections that are not partitions yet; returns the new ones."""
        known = set(self.instance.get_dynamic_partitions(COLLECTIONS))
        new = [c for c in collections if c not in known]
        if new:
            self.instance.add_dynamic_partitions(COLLECTIONS, new)
        return new

    def materialize(self, collection: str, *, tags: dict[str, str] | None = None,
                    run_config: dict[str, Any] | None = None, assets: list[str] | None = None) -> RunOutcome:
        """Materialize ``collection`` (only ``assets`` of the job, with their checks, when given)."""
        self.register([collection])
        mark_dead_runs(self.instance)
        with collection_lock(self.lock_dir, collection, self.lock_timeout_s, self.on_wait):
            started = time.perf_counter()
            run, events = execute_like_the_ui(
                self.instance, self.job, collection, tags={**(tags or {}), OWNER_TAG: ProcessRef.current().token()},
                run_config=_merge(self.base_config, run_config or {}), assets=assets,
                before_start=lambda mine: wait_for_other_runs(self.instance, collection, self.lock_timeout_s,
                                                              self.on_wait, mine=mine))
        return RunOutcome.of(collection, run, events, time.perf_counter() - started)
