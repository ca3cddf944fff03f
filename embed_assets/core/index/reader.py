"""Reading an Edge index: open the served version under its lock, or a private copy of it.

A version folder may be open in one process only. A reader resolves the pointer, takes
the version's lock (waiting up to ``wait_s``), checks that the pointer did not move
meanwhile, and loads the folder. When another process holds the version, the reader either
gives up (:class:`~.locks.LockBusy`) or, with ``private_copy``, copies the folder (sparse,
so a 5,000-chunk shard costs ~30 MB) and opens the copy. :meth:`EdgeReader.refresh` costs
one readlink when nothing changed; after a switch it opens the new version before it lets
go of the old one, so a reader never sees a half-updated index.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..storage.debris import owned_name
from .edge import EdgeStore
from .locks import FileLock, LockBusy
from .state import IndexState
from .versions import EdgeLayout, IndexNotFound, copy_version

GUARD_TIMEOUT_S = 60.0
ATTEMPTS = 20


class _Opened:
    def __init__(self, name: str, store: EdgeStore, state: IndexState | None, lock: FileLock | None,
                 private: Path | None) -> None:
        self.name, self.store, self.state, self.lock, self.private = name, store, state, lock, private


class EdgeReader:
    """The served version of one collection (or a pinned ``version``), open for queries."""

    def __init__(self, root: Path, collection: str, *, wait_s: float = 2.0, private_copy: bool = True,
                 version: str | None = None) -> None:
        self.layout = EdgeLayout(root)
        self.collection = collection
        self.wait_s = wait_s
        self.private_copy = private_copy
        self.pinned = version
        self._opened = self._open()

    @property
    def store(self) -> EdgeStore:
        return self._opened.store

    @property
    def version(self) -> str:
        return self._opened.name

    @property
    def state(self) -> IndexState | None:
        return self._opened.state

    @property
    def private(self) -> bool:
        return self._opened.private is not None

    def _resolve(self) -> str:
        name = self.pinned or self.layout.current()
        if name is None or not self.layout.folder(name).is_dir():
            raise IndexNotFound(f"no index version {self.pinned or 'published'} for {self.collection} "
                                f"under {self.layout.root}")
        return name

    def _open(self) -> _Opened:
        for _ in range(ATTEMPTS):
            name = self._resolve()
            state = self.layout.read_state(name)
            lock = self.layout.lock(name)
            try:
                lock.acquire(self.wait_s)
            except LockBusy:
                if not self.private_copy:
                    raise
                opened = self._open_copy(name, state)
                if opened is not None:
                    return opened
                continue
            try:
                if self._resolve() != name:  # the pointer moved while we waited: start over
                    lock.release()
                    continue
                with self.layout.guard(name).acquire(GUARD_TIMEOUT_S):
                    store = EdgeStore.open(self.layout.folder(name), self.collection)
            except BaseException:
                lock.release()
                raise
            return _Opened(name, store, state, lock, None)
        raise LockBusy(f"the index of {self.collection} kept changing while opening it")

    def _open_copy(self, name: str, state: IndexState | None) -> _Opened | None:
        self.layout.readers.mkdir(parents=True, exist_ok=True)
        private = self.layout.readers / owned_name(f"{name}.tmp-")  # says whose copy it is
        try:
            copy_version(self.layout, name, private, GUARD_TIMEOUT_S)
        except IndexNotFound:
            shutil.rmtree(private, ignore_errors=True)
            return None  # collected or reused since we resolved it: resolve again
        return _Opened(name, EdgeStore.open(private, self.collection), state, None, private)

    def refresh(self) -> bool:
        """Follow the pointer to a newly published version; True if switched."""
        if self.pinned or self.layout.current() in (None, self._opened.name):
            return False
        old, self._opened = self._opened, self._open()
        self._close(old)
        return True

    def _close(self, opened: _Opened) -> None:
        if opened.private is not None:
            opened.store.close()
            shutil.rmtree(opened.private, ignore_errors=True)
            return
        try:
            with self.layout.guard(opened.name).acquire(GUARD_TIMEOUT_S):
                opened.store.close()
        finally:
            if opened.lock is not None:
                opened.lock.release()

    def close(self) -> None:
        if self._opened is not None:
            opened, self._opened = self._opened, None  # type: ignore[assignment]
            self._close(opened)

    def __enter__(self) -> EdgeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
