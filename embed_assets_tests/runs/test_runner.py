"""Runs of the command line look like runs launched from the UI, and each data root keeps
its own instance."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG

from embed_assets.core.settings import get_settings
from embed_assets.core.storage.locks import CollectionBusy
from embed_assets.runs.instance import InstanceBoundElsewhere, open_instance
from embed_assets.runs.runner import OWNER_TAG, PARTITION_TAG, mark_dead_runs, wait_for_other_runs

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


@dg.op
def _noop() -> None:
    pass


@dg.job
def _claims() -> None:
    _noop()


def test_two_command_lines_claiming_one_collection_at_once_take_turns_by_age(instance: dg.DagsterInstance) -> None:
    # Both runs exist before either checks (two hosts at the same moment): the older goes first,
    # the younger waits for it, and a run of another collection is no obstacle.
    def claim(collection: str, owner: str) -> dg.DagsterRun:
        return instance.create_run_for_job(_claims, tags={PARTITION_TAG: collection, OWNER_TAG: owner})

    older, younger = claim("ops-faq", "h.1.1"), claim("ops-faq", "h.2.2")
    claim("other", "h.3.3")
    wait_for_other_runs(instance, "ops-faq", timeout_s=0, mine=older)
    with pytest.raises(CollectionBusy, match=older.run_id[:8]):
        wait_for_other_runs(instance, "ops-faq", timeout_s=0, mine=younger)
    instance.report_run_failed(older, "done")
    wait_for_other_runs(instance, "ops-faq", timeout_s=0, mine=younger)


def test_a_claim_whose_process_died_is_released(instance: dg.DagsterInstance) -> None:
    import subprocess
    import sys

    from embed_assets.core.processes import ProcessRef, host_name, process_start

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    dead = ProcessRef(host=host_name(), pid=child.pid, start=process_start(child.pid))
    child.kill()
    child.wait()
    stale = instance.create_run_for_job(_claims, tags={PARTITION_TAG: "ops-faq", OWNER_TAG: dead.token()})
    mine = instance.create_run_for_job(_claims, tags={PARTITION_TAG: "ops-faq", OWNER_TAG: ProcessRef.current().token()})
    assert stale.run_id in mark_dead_runs(instance)
    wait_for_other_runs(instance, "ops-faq", timeout_s=0, mine=mine)
