"""Atomic files: written beside their destination and renamed over it.

Everything the product writes holds document text or vectors derived from it, so files
are created ``0640`` and folders ``0750`` (group-readable, never world-readable) wherever
they live: intermediate storage, caches, staging folders and exports alike."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .crash import crash_point
from .debris import is_debris, owned_name, remove

FILE_MODE = 0o640
DIR_MODE = 0o750


def make_dirs(path: Path) -> Path:
    """``mkdir -p`` with the data folder mode for every folder it creates."""
    missing = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=DIR_MODE)
            os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; on success it replaces ``dest``."""
    make_dirs(dest.parent)
    for stale in dest.parent.glob(f".{dest.name}.tmp-*"):  # left by a writer that was killed
        if is_debris(stale):
            remove(stale)
    tmp = dest.with_name(owned_name(f".{dest.name}.tmp-"))
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        crash_point("tmp-written")
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_parquet(dest: Path, table: pa.Table) -> None:
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def atomic_write_text(dest: Path, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text, "utf-8")
