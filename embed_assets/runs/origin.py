"""Executing a job in this process with a run record like the UI's: the run carries the code
location's origin, so it shows on the job page, the timeline and the partitions tab, and
can be re-executed from the UI. (``execute_in_process`` runs carry none and show only in
the global runs list.) The origin and in-process execution are Dagster internals."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import dagster as dg
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import execute_run_iterator
from dagster._core.remote_origin import RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.workspace.load import location_origin_from_module_name

from embed_assets.core.settings import get_settings

MODULE = "embed_assets.defs.definitions"
ATTRIBUTE = "defs"
LOCATION = "embed_assets"  # workspace.yaml's location_name and [tool.dg.project] code_location_name


def remote_job_origin(job_name: str) -> RemoteJobOrigin:
    location = location_origin_from_module_name(module_name=MODULE, attribute=ATTRIBUTE, location_name=LOCATION,
                                                working_directory=str(get_settings().project_home))
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)


def execute_like_the_ui(instance: dg.DagsterInstance, job: dg.JobDefinition, partition: str, *,
                        tags: dict[str, str], run_config: dict[str, Any], assets: Iterable[str] | None = None,
                        on_event: Callable[[dg.DagsterEvent], None] | None = None,
                        before_start: Callable[[dg.DagsterRun], None] | None = None,
                        ) -> tuple[dg.DagsterRun, list[dg.DagsterEvent]]:
    """Create the run with its origin and execute it here; the final run record and its events.
    ``before_start`` sees the created run before it starts (the run exists, so other processes
    see its claim); when it raises, the run is deleted, never started."""
    selection = frozenset(dg.AssetKey(a) for a in assets) if assets else None
    job = job.get_subset(asset_selection=selection) if selection else job
    recon = ReconstructableRepository.for_module(MODULE, ATTRIBUTE, working_directory=str(get_settings().project_home))
    run = instance.create_run_for_job(
        job_def=job, run_config={**job.get_run_config_for_partition_key(partition), **run_config},
        tags={**job.get_tags_for_partition_key(partition, selected_asset_keys=selection), **tags},
        remote_job_origin=remote_job_origin(job.name), asset_selection=selection,
        job_code_origin=recon.get_reconstructable_job(job.name).get_python_origin())
    if before_start is not None:
        try:
            before_start(run)
        except BaseException:
            instance.delete_run(run.run_id)
            raise
    events = []
    for event in execute_run_iterator(InMemoryJob(job), run, instance):
        events.append(event)
        if on_event is not None:
            on_event(event)
    final = instance.get_run_by_id(run.run_id)
    assert final is not None
    return final, events
