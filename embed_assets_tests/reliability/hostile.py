"""The catalogue of hostile inputs: each kind builds one hostile entry in a real collection
folder beside one good document, and says what must become of it: handled (decoded,
split, de-duplicated, read) or a recorded skip with a specific reason.

Texts planted outside the collection folders (``canaries``) must never appear in any
chunk, column or envelope.
"""

from __future__ import annotations

import json
import os
import random
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .child import nest_folders

GOOD = "good.txt"
GOOD_TEXT = "The good document explains hybrid retrieval with dense and sparse vectors."
CANARY_FILE = "CANARY-0d1f-OUTSIDE-FILE"
CANARY_DIR = "CANARY-77ab-OUTSIDE-FOLDER"
CANARY_OTHER = "CANARY-5c3e-OTHER-COLLECTION"
CANARY_EXPORT = "CANARY-9e42-EXPORTS"
# Text that sits outside every collection on any Linux host, and in every child's environment.
CANARIES = [CANARY_FILE, CANARY_DIR, CANARY_OTHER, CANARY_EXPORT, "root:x:0:0:", "HF_HUB_OFFLINE=1"]
LIMIT = 50 * 1024 * 1024  # the default read limit


@dataclass
class Place:
    """Where a kind builds: its collection folder, and the folders around it that hold canaries."""

    folder: Path
    data_root: Path
    outside: Path

    def write(self, rel: str, data: bytes | str) -> Path:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    def link(self, rel: str, target: str | Path) -> None:
        (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, self.folder / rel)


@dataclass(frozen=True)
class Skip:
    reasons: frozenset[str]
    embedded: int = 1  # documents embedded in all: the good one (and any the kind adds on purpose)


@dataclass(frozen=True)
class Handled:
    what: str
    check: Callable[[dict[str, Any]], bool]
    also_skipped: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Kind:
    name: str
    build: Callable[[Place], Path | None] | Callable[[Place], None]
    expect: Skip | Handled


def skip(*reasons: str, embedded: int = 1) -> Skip:
    return Skip(frozenset(reasons), embedded)


def docs(result: dict[str, Any]) -> dict[str, Any]:
    return result["documents"]


def plant_canaries(data_root: Path, outside: Path) -> None:
    """The outside world: a file and a folder beside the data root, another collection, an export."""
    outside.mkdir(parents=True)
    (outside / "canary.txt").write_text(CANARY_FILE)
    (outside / "folder").mkdir()
    (outside / "folder" / "inside-outside.txt").write_text(CANARY_DIR)
    (outside / "back.txt").symlink_to(data_root / "collections" / "symlink-out-and-back" / GOOD)
    other = data_root / "collections" / "other"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text(CANARY_OTHER)
    (data_root / "exports" / "other").mkdir(parents=True)
    (data_root / "exports" / "other" / "fused_vectors.jsonl").write_text(json.dumps({"text": CANARY_EXPORT}))


def fifo(p: Place) -> None:
    os.mkfifo(p.folder / "pipe.txt")


def unix_socket(p: Place) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(p.folder / "socket.txt"))


def deep_folders(p: Place) -> None:
    (nest_folders(p.folder, 1200) / "deep.txt").write_text("far down")


def collection_is_a_link(p: Place) -> Path:
    real = p.data_root / "real-folders" / p.folder.name
    real.parent.mkdir(exist_ok=True)
    p.folder.rename(real)
    linked = p.folder
    linked.symlink_to(real)
    return linked


def hard_link_outside(p: Place) -> None:
    target = p.outside / "hard-linked.txt"
    target.write_text("HARDLINKED text that was put in the collection by a hard link")
    os.link(target, p.folder / "hard.txt")


def sparse(p: Place, rel: str, size: int, head: bytes = b"") -> None:
    path = p.write(rel, head)
    os.truncate(path, size)


def unreadable(p: Place, rel: str) -> None:
    path = p.write(rel, "locked away")
    path.chmod(0)


def unreadable_folder(p: Place) -> None:
    p.write("locked/inner.txt", "locked away")
    (p.folder / "locked").chmod(0)


def read_only(p: Place) -> None:
    p.write("read-only.txt", "A read-only file is read like any other.").chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def random_bytes(p: Place) -> None:
    p.write("noise.txt", random.Random(7).randbytes(4096) + b"\x00")


def corpus(*lines: str | bytes) -> Callable[[Place], None]:
    def build(p: Place) -> None:
        p.write("corpus.jsonl", b"".join((line.encode("utf-8") if isinstance(line, str) else line) + b"\n"
                                         for line in lines))
    return build


def writes(rel: str, data: bytes | str) -> Callable[[Place], None]:
    def build(p: Place) -> None:
        p.write(rel, data)
    return build


def links(rel: str, target: Callable[[Place], str | Path]) -> Callable[[Place], None]:
    def build(p: Place) -> None:
        p.link(rel, target(p))
    return build


def hard_links(rel: str, target: str) -> Callable[[Place], None]:
    def build(p: Place) -> None:
        os.link(p.folder / target, p.folder / rel)
    return build


def together(*builders: Callable[[Place], None]) -> Callable[[Place], None]:
    def build(p: Place) -> None:
        for builder in builders:
            builder(p)
    return build


def has(doc_id: str, *needles: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: doc_id in docs(r) and all(n in docs(r)[doc_id]["text_head"] for n in needles)


def titled(doc_id: str, title: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: doc_id in docs(r) and docs(r)[doc_id]["title"] == title
