"""An entry swapped between the walk and the read (for a link, a FIFO, another file, or
through a parent swapped for a link) is refused when it is opened, never read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embed_assets.core.ingest.documents import Document, ReadLimits, SkippedDocument
from embed_assets.core.ingest.reading import read_text_file
from embed_assets.core.ingest.walk import InputFile, walk_collection
from embed_assets_tests.reliability.child import deadline

CANARY = "CANARY-71c0-swapped-in"


@pytest.fixture
def listed(tmp_path: Path) -> tuple[Path, Path, InputFile, str]:
    """A collection with ``sub/doc.txt`` as the walk listed it, and a folder outside it."""
    collection = tmp_path / "collection"
    (collection / "sub").mkdir(parents=True)
    (collection / "sub" / "doc.txt").write_text("The document the walk saw.")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "doc.txt").write_text(CANARY)
    walk = walk_collection(collection)
    [entry] = walk.entries
    assert isinstance(entry, InputFile)
    return collection, outside, entry, walk.root


def _read(entry: InputFile, root: str) -> Document | SkippedDocument:
    with deadline(10):
        return read_text_file(entry, root, "text", ReadLimits())


def test_the_listed_file_is_read(listed: tuple[Path, Path, InputFile, str]) -> None:
    _, _, entry, root = listed
    assert isinstance(_read(entry, root), Document)


def test_a_file_swapped_for_a_link_is_refused(listed: tuple[Path, Path, InputFile, str]) -> None:
    collection, outside, entry, root = listed
    (collection / "sub" / "doc.txt").unlink()
    (collection / "sub" / "doc.txt").symlink_to(outside / "doc.txt")
    item = _read(entry, root)
    assert isinstance(item, SkippedDocument) and item.reason.value == "changed_while_reading"


def test_a_file_swapped_for_another_file_is_refused(listed: tuple[Path, Path, InputFile, str]) -> None:
    collection, _, entry, root = listed
    replacement = collection / "sub" / "new.txt"
    replacement.write_text("a different file")
    replacement.replace(collection / "sub" / "doc.txt")
    item = _read(entry, root)
    assert isinstance(item, SkippedDocument) and item.reason.value == "changed_while_reading"


def test_a_file_swapped_for_a_fifo_never_blocks(listed: tuple[Path, Path, InputFile, str]) -> None:
    collection, _, entry, root = listed
    (collection / "sub" / "doc.txt").unlink()
    os.mkfifo(collection / "sub" / "doc.txt")
    item = _read(entry, root)
    assert isinstance(item, SkippedDocument) and item.reason.value in {"special_file", "changed_while_reading"}


def test_a_parent_swapped_for_a_link_outside_is_refused(listed: tuple[Path, Path, InputFile, str]) -> None:
    """The same inode reached through a path outside: only the real path of the open file
    (``/proc/self/fd``) tells, and it is refused."""
    collection, outside, entry, root = listed
    (outside / "doc.txt").unlink()
    os.link(collection / "sub" / "doc.txt", outside / "doc.txt")
    (collection / "sub").rename(collection / "moved")
    (collection / "sub").symlink_to(outside)
    item = _read(entry, root)
    assert isinstance(item, SkippedDocument) and item.reason.value == "symlink_outside"
