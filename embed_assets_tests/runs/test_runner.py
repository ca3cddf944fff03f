"""Runs of the command line look like runs launched from the UI, and each data root keeps
its own instance."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from embed_assets.core.settings import get_settings
from embed_assets.runs.instance import InstanceBoundElsewhere, open_instance

from ..helpers import materialize_collection


@pytest.mark.slow
def test_runner_runs_show_on_the_job_page_and_the_timeline(instance: dg.DagsterInstance, data_root: Path) -> None:
    outcome = materialize_collection(instance, data_root, "ops-faq")
    assert outcome.success
    # The UI's job page filters on the job name and the repository label; the timeline needs the origin.
    listed = instance.get_runs(dg.RunsFilter(job_name="embed_collections",
                                             tags={REPOSITORY_LABEL_TAG: "__repository__@embed_assets"}))
    assert [r.run_id for r in listed] == [outcome.run_id]
    run = listed[0]
    assert run.remote_job_origin is not None and run.tags["dagster/partition"] == "ops-faq"
    assert run.tags["dagster/partition_set"] == "embed_collections_partition_set"


def test_each_data_root_gets_its_own_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    settings = get_settings()
    assert settings.dagster_home_for(settings.project_home / "data") == settings.project_home / ".dagster"
    assert settings.dagster_home_for(tmp_path / "other") == (tmp_path / "other").resolve() / ".dagster"
    home = tmp_path / "shared-home"
    open_instance(home, tmp_path / "one")
    open_instance(home, tmp_path / "one")  # the same data root again: fine
    with pytest.raises(InstanceBoundElsewhere, match="serves the data root"):
        open_instance(home, tmp_path / "two")
    # An instance that names its own storage is shared by hosts on purpose: never bound.
    shared = tmp_path / "shared-sqlite"
    shared.mkdir()
    (shared / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {shared / 'storage'}\n")
    open_instance(shared, tmp_path / "one")
    open_instance(shared, tmp_path / "two")
    assert not (shared / "embed_assets.json").exists()
