"""Versioned Edge shard folders under one collection's index folder, and the pointer
readers follow.

```
<index-root>/<collection>/
  .writer.lock                 held by the one index run that may change this collection
  CURRENT -> versions/v000003  the served version; replaced atomically (rename of a symlink)
  versions/v000003/            a shard folder; never written once published (except by
                               the engine's own load/close bookkeeping)
  versions/v000003.json        its IndexState;  v000003.points.parquet: point id, fingerprint
  versions/v000003.lock        held by whichever process has v000003 open (one at a time)
  versions/v000003.guard       held around load/close and while copying the folder
  versions/v000002/            the standby: the next run applies its delta here, then switches
  readers/<pid>-<token>-v000003/  private copies for readers that found a version held
```
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..storage.debris import is_debris
from ..storage.files import atomic_path, fsync_dir
from .locks import FileLock, LockBusy
from .state import IndexState

VERSION = re.compile(r"^v(\d{6})$")
POINTER = "CURRENT"


class IndexNotFound(FileNotFoundError):
    """No index version has been published for the collection."""


class EdgeLayout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"
        self.readers = root / "readers"
        self.pointer = root / POINTER
        self.writer_lock = root / ".writer.lock"

    def folder(self, name: str) -> Path:
        return self.versions / name

    def lock(self, name: str) -> FileLock:
        return FileLock(self.versions / f"{name}.lock")

    def guard(self, name: str) -> FileLock:
        return FileLock(self.versions / f"{name}.guard")

    def state_file(self, name: str) -> Path:
        return self.versions / f"{name}.json"

    def points_file(self, name: str) -> Path:
        return self.versions / f"{name}.points.parquet"

    def current(self) -> str | None:
        """The served version's name (one readlink)."""
        try:
            name = os.path.basename(os.readlink(self.pointer))
        except (FileNotFoundError, OSError):
            return None
        return name if VERSION.match(name) else None

    def names(self) -> list[str]:
        """Published version folders, oldest first."""
        if not self.versions.is_dir():
            return []
        return sorted(p.name for p in self.versions.iterdir() if VERSION.match(p.name) and p.is_dir())

    def read_state(self, name: str) -> IndexState | None:
        path = self.state_file(name)
        return IndexState.model_validate_json(path.read_text("utf-8")) if path.is_file() else None

    def read_fingerprints(self, name: str) -> dict[str, str]:
        path = self.points_file(name)
        if not path.is_file():
            return {}
        table = pq.read_table(path)
        return dict(zip(table.column("point_id").to_pylist(), table.column("fingerprint").to_pylist()))

    def write_sidecars(self, name: str, state: IndexState, fingerprints: dict[str, str]) -> None:
        with atomic_path(self.state_file(name)) as tmp:
            tmp.write_text(state.model_dump_json(indent=2), "utf-8")
        ids = sorted(fingerprints)
        table = pa.table({"point_id": ids, "fingerprint": [fingerprints[i] for i in ids]})
        with atomic_path(self.points_file(name)) as tmp:
            pq.write_table(table, tmp, compression="zstd")

    def remove_version_files(self, name: str) -> None:
        for path in (self.state_file(name), self.points_file(name), self.versions / f"{name}.lock",
                     self.versions / f"{name}.guard"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def switch(self, name: str) -> None:
        """Point readers at ``name`` in one atomic rename."""
        tmp = self.root / f".{POINTER}.{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.join("versions", name), tmp)
        os.replace(tmp, self.pointer)
        fsync_dir(self.root)


def copy_folder(src: Path, dst: Path) -> None:
    """Copy a closed shard folder. The engine preallocates its files sparse (a 1,000-point
    shard is ~10 MB on disk, ~200 MB apparent); GNU cp keeps the holes, a plain copy fills
    them in."""
    try:
        subprocess.run(["cp", "-a", "--sparse=always", str(src), str(dst)], check=True, capture_output=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst, symlinks=True)


def copy_version(layout: EdgeLayout, name: str, dst: Path, timeout_s: float) -> None:
    """Copy a published version while no one is loading or closing it."""
    with layout.guard(name).acquire(timeout_s) as _:
        if not layout.folder(name).is_dir():
            raise IndexNotFound(f"index version {name} is gone")
        copy_folder(layout.folder(name), dst)


def collect_garbage(layout: EdgeLayout, keep: int = 2) -> list[str]:
    """Remove versions beyond the served one and the newest standby that nobody holds,
    leftovers of failed runs, and private copies of readers that died. Call it only while
    holding the writer lock."""
    current = layout.current()
    removed = []
    others = [n for n in layout.names() if n != current]
    for name in others[: max(len(others) - (keep - 1), 0)]:
        lock = layout.lock(name)
        try:
            lock.acquire(0)
        except LockBusy:
            continue  # a reader still has it open; a later run removes it
        try:
            shutil.rmtree(layout.folder(name), ignore_errors=True)
            layout.remove_version_files(name)
            removed.append(name)
        finally:
            lock.release()
    if layout.versions.is_dir():
        for leftover in layout.versions.glob("*.building"):
            shutil.rmtree(leftover, ignore_errors=True)
    if layout.readers.is_dir():
        for copy in layout.readers.iterdir():
            if is_debris(copy):  # its reader is gone (pid and start time), or it is nameless and old
                shutil.rmtree(copy, ignore_errors=True)
    return removed
