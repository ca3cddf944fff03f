"""A sensor that turns new collection folders into partitions."""

import dagster as dg

from embed_assets.core.ingest.discovery import discover_collections

from .partitions import COLLECTIONS, collections_partitions
from .resources import PathsResource


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds a partition for every new folder under <data_root>/collections.")
def collection_folders_sensor(context: dg.SensorEvaluationContext, paths: PathsResource) -> dg.SensorResult:
    safe, refused = discover_collections(paths.collections)
    for name, problems in refused.items():
        context.log.warning(f"refused collection folder {name!r}: {'; '.join(problems)}")
    known = set(context.instance.get_dynamic_partitions(COLLECTIONS))
    new = [name for name in safe if name not in known]
    requests = [collections_partitions.build_add_request(new)] if new else []
    skip = None
    if not new:
        skip = "no new collection folders" + (f"; refused: {', '.join(repr(n) for n in refused)}" if refused else "")
    return dg.SensorResult(dynamic_partitions_requests=requests, skip_reason=skip)
