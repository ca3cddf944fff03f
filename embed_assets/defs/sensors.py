"""Automatic updates: a sensor that registers new collection folders as partitions and
requests a run of ``embed_collections`` for every collection whose files changed since
its last published export (and for new ones), keyed by the folder's state so each state
runs once. A removed folder is reported once; its last export stays.

Switch: ``EMBED_ASSETS_AUTOMATION=0`` starts the sensor stopped (it can still be turned on
or off in the UI, like any sensor)."""

import json

import dagster as dg

from embed_assets.core.ingest.changes import folder_state
from embed_assets.core.ingest.discovery import discover_collections
from embed_assets.core.settings import get_settings

from .jobs import embed_collections_job
from .metadata import FOLDER_STATE_KEY
from .partitions import COLLECTIONS, collections_partitions
from .resources import PathsResource

TRIGGER_TAG = "embed_assets/trigger"


def published_state(instance: dg.DagsterInstance, collection: str) -> str | None:
    """The folder state recorded by the collection's last published export (None: never published)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("processing_summary"), asset_partitions=[collection]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    value = records[0].asset_materialization.metadata.get(FOLDER_STATE_KEY)
    return str(value.value) if value is not None else ""


def _run_request(collection: str, state: str, trigger: str) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"{collection}:{state[:16]}", partition_key=collection,
                         tags={TRIGGER_TAG: trigger})


def _default_status() -> dg.DefaultSensorStatus:
    on = get_settings().automation
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


@dg.sensor(job=embed_collections_job, minimum_interval_seconds=30, default_status=_default_status(),
           description="Registers new folders under <data_root>/collections as partitions and materializes new and "
                       "changed collections (keyed by the folder's file paths, sizes and times). Removed folders are "
                       "reported; their last export stays.")
def collection_changes_sensor(context: dg.SensorEvaluationContext, paths: PathsResource) -> dg.SensorResult:
    safe, refused = discover_collections(paths.collections)
    for name, problems in refused.items():
        context.log.warning(f"refused collection folder {name!r}: {'; '.join(problems)}")
    known = set(context.instance.get_dynamic_partitions(COLLECTIONS))
    requests, new = [], [name for name in safe if name not in known]
    for name in safe:
        state, published = folder_state(paths.collection_folder(name)), published_state(context.instance, name)
        if published != state:
            requests.append(_run_request(name, state, "new" if published is None else "changed"))
    reported = set(json.loads(context.cursor or "[]"))
    missing = sorted(known - set(safe) - set(refused))
    events = [dg.AssetObservation(asset_key="chunks", partition=name, metadata={
        "collection_folder": "missing", "export": "the last export stays published"})
        for name in missing if name not in reported]
    for event in events:
        context.log.warning(f"collection folder {event.partition!r} is gone; its last export stays published")
    return dg.SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(missing),
                           dynamic_partitions_requests=[collections_partitions.build_add_request(new)] if new else [])
