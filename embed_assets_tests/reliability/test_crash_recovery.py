"""A process killed (SIGKILL) at any point of publishing leaves the last good export
published; the next run removes what it left and marks its run failed, and pruning never
deletes a published version in favour of an unpublished one."""

import os
import signal
from pathlib import Path

import dagster as dg
import pytest

from embed_assets.core.processes import ProcessRef
from embed_assets.core.storage.crash import POINTS
from embed_assets.core.storage.publish import OWNER, PUBLISHED, ExportPublisher
from embed_assets.runs.instance import open_instance
from embed_assets.runs.runner import DagsterRunner

from ..helpers import run_cli

COLLECTION = "ops-faq"


def _debris(root: Path) -> list[str]:
    """Every entry a killed writer can leave: temporaries, staging folders, unpublished versions."""
    found = [str(p.relative_to(root)) for p in root.rglob(".*") if any(m in p.name for m in (".tmp-", ".link-",
                                                                                            ".staging-"))]
    history = root / "exports" / ".history" / COLLECTION
    if history.is_dir():
        found += [str(v.relative_to(root)) for v in history.iterdir()
                  if not v.name.startswith(".") and not (v / PUBLISHED).exists()]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
def test_a_kill_while_publishing_is_cleaned_by_the_next_run(point: str, tmp_path: Path, data_root: Path) -> None:
    home = tmp_path / "home"
    instance = open_instance(home)
    runner = DagsterRunner.for_data_root(instance, data_root=data_root)
    assert runner.materialize(COLLECTION).success
    good = os.readlink(data_root / "exports" / COLLECTION)
    (data_root / "collections" / COLLECTION / "note.txt").write_text("A note added after the first export.\n")
    killed = run_cli(["run", "--data-root", str(data_root), "--collection", COLLECTION], home,
                     EMBED_ASSETS_CRASH_AT=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert os.readlink(data_root / "exports" / COLLECTION) == good  # readers still see the last good export
    assert _debris(data_root), f"the kill at {point!r} left nothing to clean"
    started = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert len(started) == 1
    recovered = runner.materialize(COLLECTION)
    assert recovered.success and os.readlink(data_root / "exports" / COLLECTION) != good
    assert _debris(data_root) == []
    assert instance.get_run_by_id(started[0].run_id).status == dg.DagsterRunStatus.FAILURE


def _version(publisher: ExportPublisher, name: str, owner: ProcessRef | None, published: bool) -> Path:
    folder = publisher.history / name
    folder.mkdir(parents=True)
    (folder / "fused_vectors.parquet").write_bytes(b"x")
    if owner is not None:
        (folder / OWNER).write_text(owner.token())
    if published:
        (folder / PUBLISHED).touch()
    return folder


def test_pruning_keeps_published_versions_over_unpublished_ones(tmp_path: Path) -> None:
    publisher = ExportPublisher(tmp_path / "exports", COLLECTION, keep=2)
    me = ProcessRef.current()
    dead = ProcessRef(host=me.host, pid=me.pid, start=(me.start or 0) + 1)  # same pid, other start: not us
    old = _version(publisher, "20260101T000000000000Z-aaaaaaaa", me, published=True)
    orphan = _version(publisher, "20260102T000000000000Z-bbbbbbbb", dead, published=False)
    writing = _version(publisher, "20260103T000000000000Z-cccccccc", me, published=False)
    with publisher.staging() as staged:
        (staged / "fused_vectors.parquet").write_bytes(b"y")
        final = publisher.publish(staged, "20260104T000000000000Z-dddddddd")
    assert publisher.current() == final
    assert old.is_dir(), "the previous published version is kept (keep=2)"
    assert not orphan.exists(), "a version its dead writer never published is debris"
    assert writing.is_dir(), "a version a live writer is still publishing is left alone"
