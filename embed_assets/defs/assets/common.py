"""What every asset shares: its group, partitions, stage span, progress lines and the
Dagster-log form of batch events."""

import functools
import logging
from collections.abc import Callable
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterInvalidPropertyError

from embed_assets.core.devices.events import BatchEvent, record_batch_event
from embed_assets.core.devices.memory import trim_heap
from embed_assets.core.ingest.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.processes import ProcessRef
from embed_assets.core.telemetry import set_attributes, stage_span
from embed_assets.resources.model_manager import model_loads_in_process

from ..partitions import collections_partitions

GROUP = "embedding"
OWNERS = ["team:retrieval"]
progress_log = logging.getLogger("embed_assets.progress")


def asset_options(**kwargs: Any) -> dict[str, Any]:
    """The options every asset of the graph shares, plus its own."""
    return {"partitions_def": collections_partitions, "group_name": GROUP, "owners": OWNERS, "code_version": "1",
            **kwargs}


def graph_options(**kwargs: Any) -> dict[str, Any]:
    """The options of a graph-backed (sharded) asset: the same group, partitions and owners."""
    return asset_options(**kwargs)


def run_id_of(context: dg.AssetExecutionContext) -> str:
    """The run's id (``EPHEMERAL`` when the asset is invoked directly, as in unit tests)."""
    return context.op_execution_context.run_id


def run_includes(context: dg.AssetExecutionContext, asset: str) -> bool:
    """Whether this run materializes ``asset`` too (False when the asset is invoked directly;
    in a re-execution, only when it re-executes the asset's steps)."""
    try:
        run = context.run
    except DagsterInvalidPropertyError:
        return False
    if run.step_keys_to_execute is not None:
        return any(key == asset or key.startswith(f"{asset}.") for key in run.step_keys_to_execute)
    return run.asset_selection is None or dg.AssetKey(asset) in run.asset_selection


def progress(context: dg.AssetExecutionContext, message: str) -> None:
    context.log.info(message)
    progress_log.info("[%s] %s", context.partition_key, message)


def collection_of(context: dg.AssetExecutionContext) -> str:
    try:
        return validate_collection_name(context.partition_key)
    except UnsafeCollectionName as exc:
        raise dg.Failure(str(exc)) from exc


def event_logger(context: dg.AssetExecutionContext) -> Callable[[BatchEvent], None]:
    """Each batch event as a span event and a warning in the Dagster event log."""
    def on_event(event: BatchEvent) -> None:
        record_batch_event(event)
        context.log.warning(event.describe())

    return on_event


def traced(name: str) -> Callable[[Callable[..., dg.Output]], Callable[..., dg.Output]]:
    """Run an asset (or a step of a sharded one) inside its stage span (one trace per Dagster
    run); the output's numeric and text metadata become span attributes. The output also says
    which process ran the step and how many models it had to load (0: they were loaded by an
    earlier step of the same process)."""

    def decorate(fn: Callable[..., dg.Output]) -> Callable[..., dg.Output]:
        @functools.wraps(fn)
        def wrapper(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> dg.Output:
            with stage_span(name, run_id_of(context), context.partition_key) as span:
                loads = model_loads_in_process()
                output = fn(context, *args, **kwargs)
                output = output.with_metadata({**(output.metadata or {}), "process": ProcessRef.current().token(),
                                               "model_loads": model_loads_in_process() - loads})
                trim_heap()  # the stage's temporaries are garbage now: give the pages back
                set_attributes(span, {k.replace("dagster/", ""): v.value if isinstance(v, dg.MetadataValue) else v
                                      for k, v in (output.metadata or {}).items()})
                return output

        return wrapper

    return decorate
