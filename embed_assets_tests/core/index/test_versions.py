"""What Edge allows across processes, and the locking built on it, with real second processes:
one opener per version folder, private copies for extra readers, one writer per collection,
and readers that follow the pointer without ever seeing a half-updated index."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from embed_assets.core.index.locks import LockBusy
from embed_assets.core.index.sync import sync_index
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.index.versions import EdgeLayout, IndexNotFound

from ...helpers import REPO
from .conftest import make_export, make_manifest

MANIFEST = make_manifest()


@contextmanager
def second_process(target: IndexTarget, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A real second process running ``reader_process``; it is told to finish on exit."""
    process = subprocess.Popen([sys.executable, "-m", "embed_assets_tests.core.index.reader_process",
                                str(target.root), *args], cwd=REPO, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("ready"), line
        yield process
    finally:
        with suppress(OSError):  # it may have been told already and be gone
            process.stdin.write("done\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
        process.wait(timeout=60)


def test_reading_before_anything_is_published_says_so(edge_target: IndexTarget) -> None:
    with pytest.raises(IndexNotFound):
        edge_target.reader("c")


def test_a_held_version_is_read_from_a_private_copy_or_refused(edge_target: IndexTarget) -> None:
    sync_index(edge_target, "c", make_export(10), MANIFEST, "e1")
    with second_process(edge_target, "hold"):
        with pytest.raises(LockBusy):
            edge_target.reader("c", wait_s=0.2, private_copy=False)
        with edge_target.reader("c", wait_s=0.2) as reader:
            assert reader.reader.private and reader.store.count() == 30 and reader.version == "v000001"
            copies = list((edge_target.root / "c" / "readers").iterdir())
            assert len(copies) == 1
        assert not list((edge_target.root / "c" / "readers").iterdir())  # removed on close
        # Publishing does not wait for the reader: the held version is copied, not reused.
        result = sync_index(edge_target, "c", make_export(12), MANIFEST, "e2")
        assert result.base == "copy of v000001" and result.points == 36
    with edge_target.reader("c", wait_s=0) as reader:
        assert not reader.reader.private and (reader.version, reader.store.count()) == ("v000002", 36)


def test_a_reader_that_waits_gets_the_version_once_released(edge_target: IndexTarget) -> None:
    sync_index(edge_target, "c", make_export(4), MANIFEST, "e1")
    with second_process(edge_target, "hold") as process:
        def release() -> None:
            process.stdin.write("done\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]

        started = time.monotonic()
        threading.Timer(1.0, release).start()
        with edge_target.reader("c", wait_s=30, private_copy=False) as reader:
            assert reader.store.count() == 12 and not reader.reader.private
        assert time.monotonic() - started >= 0.9


def test_one_writer_per_collection(edge_target: IndexTarget) -> None:
    sync_index(edge_target, "c", make_export(4), MANIFEST, "e1")
    impatient = edge_target.model_copy(update={"lock_timeout_s": 0.3})
    with second_process(edge_target, "write"):
        with pytest.raises(LockBusy):
            sync_index(impatient, "c", make_export(6), MANIFEST, "e2")
    with edge_target.reader("c") as reader:
        assert reader.version == "v000001" and reader.store.count() == 12


@pytest.mark.slow
def test_readers_switch_whole_versions_while_runs_publish(edge_target: IndexTarget) -> None:
    sizes = [10, 12, 14, 16, 18]
    sync_index(edge_target, "c", make_export(sizes[0]), MANIFEST, "e0")
    with second_process(edge_target, "loop", "8") as process:
        for i, size in enumerate(sizes[1:], start=1):
            time.sleep(1.0)
            sync_index(edge_target, "c", make_export(size, seed=i % 2), MANIFEST, f"e{i}")
        report = json.loads(process.stdout.readline())  # type: ignore[union-attr]
    assert report["errors"] == [] and report["queries"] > 50
    assert len(report["seen"]) >= 3  # it followed several switches
    assert all(len(counts) == 1 and counts[0] in {3 * s for s in sizes} for counts in report["seen"].values())
    layout = EdgeLayout(edge_target.root / "c")
    assert layout.current() == "v000005" and len(layout.names()) <= 3
