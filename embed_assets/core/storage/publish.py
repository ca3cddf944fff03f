"""Atomically published export folders.

An export folder is built in a staging folder, renamed into
``.history/<collection>/<version>/`` and published by atomically replacing the
``<collection>`` symlink, so a reader always sees a complete version, and a failed run
never replaces the last good one. A published version carries a ``.published`` marker;
pruning keeps the current version and the newest published ones, and removes only
versions that were never published and whose writer is gone. Staging folders, link
temporaries and unpublished versions left by a killed process are cleaned by the next
publish (see :mod:`.debris`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..processes import ProcessRef
from .crash import crash_point
from .debris import clean_debris, is_debris, owned_name
from .files import DIR_MODE, FILE_MODE, fsync_dir, make_dirs

HISTORY_DIR = ".history"
PUBLISHED = ".published"
OWNER = ".owner"


class ExportPublisher:
    """Versioned, atomically switched export folders under ``export_root``."""

    def __init__(self, export_root: Path, collection: str, keep: int = 3) -> None:
        self.export_root = export_root
        self.collection = collection
        self.keep = max(keep, 1)
        self.link = export_root / collection
        self.history = export_root / HISTORY_DIR / collection

    def current(self) -> Path | None:
        """The published version folder, if any."""
        if self.link.is_symlink():
            target = (self.link.parent / os.readlink(self.link)).resolve()
            return target if target.is_dir() else None
        return self.link if self.link.is_dir() else None

    def clean(self) -> list[Path]:
        """Remove what killed writers left: staging folders, link temporaries, unpublished versions."""
        removed = clean_debris(self.history) + clean_debris(self.export_root)
        current = self.current()
        for folder in self.versions():
            if folder != current and self._unpublished_debris(folder):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

    @staticmethod
    def _unpublished_debris(folder: Path) -> bool:
        if (folder / PUBLISHED).exists() or not (folder / OWNER).is_file():
            return False  # published, or written before versions had owners (treated as published)
        owner = ProcessRef.from_token((folder / OWNER).read_text("utf-8").strip())
        return owner is not None and is_debris(folder, owner=owner)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh folder to write a version into; removed unless published."""
        make_dirs(self.history)
        self.clean()
        folder = self.history / owned_name(".staging-")
        folder.mkdir(mode=DIR_MODE)
        os.chmod(folder, DIR_MODE)
        (folder / OWNER).write_text(ProcessRef.current().token(), "utf-8")
        try:
            yield folder
        finally:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)

    def publish(self, staged: Path, version: str) -> Path:
        final = self.history / version
        if final.exists():
            raise FileExistsError(f"export version {version} already exists")
        for child in staged.iterdir():
            os.chmod(child, FILE_MODE)
            with open(child, "rb+") as handle:
                os.fsync(handle.fileno())
        crash_point("staged")
        os.rename(staged, final)
        crash_point("renamed")
        try:
            self._switch(final)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)  # never left behind as an unpublished version
            raise
        self._prune(final)
        return final

    def _switch(self, final: Path) -> None:
        if self.link.exists() and not self.link.is_symlink():
            # A plain folder from elsewhere: keep it in the history rather than lose it.
            os.rename(self.link, self.history / f"unversioned-{owned_name('')}")
        tmp_link = self.export_root / owned_name(f".{self.collection}.link-")
        os.symlink(os.path.relpath(final, self.export_root), tmp_link)
        crash_point("linked")
        os.replace(tmp_link, self.link)
        fsync_dir(self.export_root)
        (final / PUBLISHED).touch(mode=FILE_MODE)
        os.chmod(final / PUBLISHED, FILE_MODE)

    def versions(self) -> list[Path]:
        if not self.history.is_dir():
            return []
        return sorted((p for p in self.history.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name)

    def _prune(self, current: Path) -> None:
        """Keep the current version and the ``keep - 1`` newest other published ones."""
        published = [p for p in self.versions() if p != current and not self._unpublished_debris(p)
                     and ((p / PUBLISHED).exists() or not (p / OWNER).exists())]
        for folder in published[: max(len(published) - (self.keep - 1), 0)]:
            shutil.rmtree(folder, ignore_errors=True)
