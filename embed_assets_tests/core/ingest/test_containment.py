"""Containment: nothing outside a collection folder's real path is ever read, links inside
it are read once, and every link not followed is a recorded skip with its reason."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from embed_assets.core.ingest.changes import folder_state
from embed_assets.core.ingest.discovery import fingerprint_collection, iter_collection
from embed_assets.core.ingest.documents import Document, ReadLimits, SkippedDocument
from embed_assets_tests.reliability.child import deadline

CANARY = "CANARY-3f2a-never-read"


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    """A data root with a collection (one good document), another collection and a folder
    outside both, each holding a canary."""
    collection = tmp_path / "data" / "collections" / "c"
    collection.mkdir(parents=True)
    (collection / "good.txt").write_text("A good document.")
    other = tmp_path / "data" / "collections" / "other"
    other.mkdir()
    (other / "secret.txt").write_text(CANARY + " other collection")
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "canary.txt").write_text(CANARY + " outside")
    (outside / "folder" / "inner.txt").write_text(CANARY + " outside folder")
    return collection, outside


def _read(folder: Path) -> tuple[dict[str, Document], list[tuple[str, str]]]:
    with deadline(30):
        items = list(iter_collection(folder))
    docs = {i.doc_id: i for i in items if isinstance(i, Document)}
    skips = sorted((i.source_path, i.reason.value) for i in items if isinstance(i, SkippedDocument))
    return docs, skips


def test_links_to_files_and_folders_outside_are_never_followed(place: tuple[Path, Path]) -> None:
    collection, outside = place
    (collection / "passwd.txt").symlink_to("/etc/passwd")
    (collection / "leak.txt").symlink_to(outside / "canary.txt")
    (collection / "relative.txt").symlink_to("../../../outside/canary.txt")
    (collection / "other.txt").symlink_to("../other/secret.txt")
    (collection / "ext").symlink_to(outside / "folder")
    docs, skips = _read(collection)
    assert list(docs) == ["good.txt"]
    assert not any(CANARY in d.text or "root:x:0:0" in d.text for d in docs.values())
    assert skips == [("ext", "symlink_outside"), ("leak.txt", "symlink_outside"), ("other.txt", "symlink_outside"),
                     ("passwd.txt", "symlink_outside"), ("relative.txt", "symlink_outside")]


def test_a_link_loop_never_multiplies_a_document(place: tuple[Path, Path]) -> None:
    collection, _ = place
    (collection / "sub").mkdir()
    (collection / "sub" / "doc.txt").write_text("In the sub-folder.")
    (collection / "loop").symlink_to(".")
    (collection / "sub" / "back").symlink_to("..")
    (collection / "a.txt").symlink_to("b.txt")
    (collection / "b.txt").symlink_to("a.txt")
    docs, skips = _read(collection)
    assert sorted(docs) == ["good.txt", "sub/doc.txt"]
    assert skips == [("a.txt", "symlink_loop"), ("b.txt", "symlink_loop"), ("loop", "symlink_loop"),
                     ("sub/back", "symlink_loop")]


def test_links_to_ancestors_are_not_walked(place: tuple[Path, Path]) -> None:
    collection, _ = place
    (collection / "data-root").symlink_to("../..")
    (collection / "parent").symlink_to("..")
    (collection / "slash").symlink_to("/")
    docs, skips = _read(collection)
    assert list(docs) == ["good.txt"]
    assert skips == [("data-root", "symlink_outside"), ("parent", "symlink_outside"), ("slash", "symlink_outside")]


def test_dangling_links_are_recorded(place: tuple[Path, Path]) -> None:
    collection, _ = place
    (collection / "gone.txt").symlink_to("missing.txt")
    (collection / "far.txt").symlink_to("/nonexistent/missing.txt")
    _, skips = _read(collection)
    assert skips == [("far.txt", "dangling_symlink"), ("gone.txt", "dangling_symlink")]


def test_links_inside_are_read_once(place: tuple[Path, Path]) -> None:
    collection, _ = place
    (collection / "alias.txt").symlink_to("good.txt")
    (collection / "sub").mkdir()
    (collection / "sub" / "doc.txt").write_text("In the sub-folder.")
    (collection / "latest").symlink_to("sub")
    (collection / ".drafts").mkdir()
    (collection / ".drafts" / "notes.md").write_text("# Notes\n\nLinked in on purpose.")
    (collection / "notes.md").symlink_to(".drafts/notes.md")
    docs, skips = _read(collection)
    assert sorted(docs) == ["good.txt", "notes.md", "sub/doc.txt"]
    assert docs["notes.md"].title == "Notes"
    assert skips == [(".drafts", "hidden"), ("alias.txt", "duplicate_file"), ("latest", "duplicate_folder")]


def test_the_collection_folder_may_itself_be_a_link(place: tuple[Path, Path], tmp_path: Path) -> None:
    collection, _ = place
    linked = tmp_path / "linked-collection"
    linked.symlink_to(collection)
    (collection / "self").symlink_to(linked)  # a link back to the collection through its link
    docs, skips = _read(linked)
    assert list(docs) == ["good.txt"] and skips == [("self", "symlink_loop")]


def test_the_fingerprint_follows_the_same_walk(place: tuple[Path, Path]) -> None:
    collection, outside = place
    (collection / "leak.txt").symlink_to(outside / "canary.txt")
    (collection / "loop").symlink_to(".")
    (collection / "data-root").symlink_to("../..")
    with deadline(30):
        before = fingerprint_collection(collection)
        (outside / "canary.txt").write_text("changed outside")
        assert fingerprint_collection(collection) == before  # what lies outside is never read
        (collection / "good.txt").write_text("A changed document.")
        assert fingerprint_collection(collection) != before


def test_hard_links_are_the_file_and_read_once(place: tuple[Path, Path]) -> None:
    collection, outside = place
    os.link(collection / "good.txt", collection / "twin.txt")
    (outside / "shared.txt").write_text("Put in the collection by a hard link.")
    os.link(outside / "shared.txt", collection / "shared.txt")
    docs, skips = _read(collection)
    assert sorted(docs) == ["good.txt", "shared.txt"]
    assert skips == [("twin.txt", "duplicate_file")]


def test_a_symlinked_tree_counts_every_entry(place: tuple[Path, Path]) -> None:
    collection, outside = place
    for i in range(5):
        (collection / f"l{i}").symlink_to("." if i % 2 else outside)
    with deadline(30):
        items = list(iter_collection(collection, ReadLimits()))
    reasons = Counter(i.reason.value for i in items if isinstance(i, SkippedDocument))
    assert reasons == {"symlink_loop": 2, "symlink_outside": 3}
    assert sum(isinstance(i, Document) for i in items) == 1


def test_the_folder_state_follows_the_same_walk(place: tuple[Path, Path]) -> None:
    collection, outside = place
    (collection / "leak.txt").symlink_to(outside / "canary.txt")
    (collection / "data-root").symlink_to("../..")
    (collection / "collections").symlink_to("..")
    (collection / os.fsdecode(b"caf\xe9.txt")).write_text("a name that is not UTF-8")
    with deadline(30):
        before = folder_state(collection)
        (outside / "canary.txt").write_text("a longer text, changed outside the collection")
        assert folder_state(collection) == before
        (collection / "good.txt").write_text("A longer, changed document.")
        assert folder_state(collection) != before
