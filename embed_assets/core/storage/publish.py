"""Atomically published export folders.

An export folder is built in a staging folder, renamed into
``.history/<collection>/<version>/`` and published by atomically replacing the
``<collection>`` symlink, so a reader always sees a complete version, and a failed run
never replaces the last good one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from .files import fsync_dir

HISTORY_DIR = ".history"


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

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh folder to write a version into; removed unless published."""
        self.history.mkdir(parents=True, exist_ok=True)
        folder = self.history / f".staging-{uuid.uuid4().hex}"
        folder.mkdir()
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
            with open(child, "rb+") as handle:
                os.fsync(handle.fileno())
        os.rename(staged, final)
        if self.link.exists() and not self.link.is_symlink():
            # A plain folder from elsewhere: keep it in the history rather than lose it.
            os.rename(self.link, self.history / f"unversioned-{uuid.uuid4().hex[:8]}")
        tmp_link = self.export_root / f".{self.collection}.link-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.relpath(final, self.export_root), tmp_link)
        os.replace(tmp_link, self.link)
        fsync_dir(self.export_root)
        self._prune(final)
        return final

    def versions(self) -> list[Path]:
        if not self.history.is_dir():
            return []
        return sorted((p for p in self.history.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.name)

    def _prune(self, current: Path) -> None:
        old = [p for p in self.versions() if p != current]
        for folder in old[: max(len(old) - (self.keep - 1), 0)]:
            shutil.rmtree(folder, ignore_errors=True)
