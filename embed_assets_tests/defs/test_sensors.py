"""The change sensor: new folders become partitions and runs, changed ones run again once
per state, unchanged ones do not, removed ones are reported once, unsafe names refused."""

import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from embed_assets.defs.partitions import COLLECTIONS
from embed_assets.defs.resources import PathsResource
from embed_assets.defs.sensors import TRIGGER_TAG, collection_changes_sensor

from ..helpers import SAMPLES, materialize_collection


def _tick(instance: dg.DagsterInstance, paths: PathsResource, cursor: str | None = None) -> dg.SensorResult:
    return collection_changes_sensor(dg.build_sensor_context(instance=instance, resources={"paths": paths},
                                                             cursor=cursor))


@pytest.mark.slow
def test_new_changed_and_removed_collections(instance: dg.DagsterInstance, tmp_path: Path) -> None:
    data_root = tmp_path / "data"
    shutil.copytree(SAMPLES / "ops-faq", data_root / "collections" / "ops-faq")
    (data_root / "collections" / "bad,name").mkdir()
    paths = PathsResource(data_root=str(data_root))
    first = _tick(instance, paths)
    assert first.dynamic_partitions_requests[0].partition_keys == ["ops-faq"]
    assert [(r.partition_key, r.tags[TRIGGER_TAG]) for r in first.run_requests] == [("ops-faq", "new")]
    instance.add_dynamic_partitions(COLLECTIONS, ["ops-faq"])
    assert materialize_collection(instance, data_root, "ops-faq").success
    assert _tick(instance, paths).run_requests == []  # published state = folder state: nothing to do
    time.sleep(0.01)
    (data_root / "collections" / "ops-faq" / "extra.txt").write_text("Rotate the signing keys every quarter.\n")
    changed = _tick(instance, paths)
    assert [(r.partition_key, r.tags[TRIGGER_TAG]) for r in changed.run_requests] == [("ops-faq", "changed")]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
    shutil.rmtree(data_root / "collections" / "ops-faq")
    gone = _tick(instance, paths)
    assert gone.run_requests == [] and [e.partition for e in gone.asset_events] == ["ops-faq"]
    assert (data_root / "exports" / "ops-faq" / "processing_summary.json").is_file()  # the last export stays
    assert _tick(instance, paths, cursor=gone.cursor).asset_events == []  # reported once
