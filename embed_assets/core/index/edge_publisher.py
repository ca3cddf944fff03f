"""Publishing Edge index versions blue/green.

A run holds the collection's writer lock and prepares the next version from, in order of
preference: the standby (the previously served version, if no reader holds it: renamed,
then brought up to date), a copy of the served version, or a new shard. It applies the
delta there, optimizes when that pays, flushes, closes, lets the engine settle the folder
once, renames it to its version name and switches the pointer. Until that switch readers
see the previous version; a failure anywhere before it discards the prepared folder.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

from .edge import EdgeStore, EdgeTuning
from .locks import FileLock, LockBusy
from .publisher import IndexPublisher, Prepared
from .state import IndexState
from .store import IndexSchema, StoreError
from .versions import EdgeLayout, collect_garbage, copy_version

GUARD_TIMEOUT_S = 60.0


def version_name(number: int) -> str:
    return f"v{number:06d}"


class EdgePublisher(IndexPublisher):
    backend = "edge"

    def __init__(self, root: Path, collection: str, tuning: EdgeTuning | None = None,
                 lock_timeout_s: float = 60.0) -> None:
        self.layout = EdgeLayout(root)
        self.collection_name = collection
        self.location = str(root)
        self.tuning = tuning or EdgeTuning()
        self._writer = FileLock(self.layout.writer_lock).acquire(lock_timeout_s)
        self._held: list[tuple[str, FileLock]] = []
        self._building: Path | None = None

    def served(self) -> IndexState | None:
        name = self.layout.current()
        return self.layout.read_state(name) if name else None

    def served_name(self) -> str | None:
        return self.layout.current()

    def served_fingerprints(self) -> dict[str, str]:
        name = self.layout.current()
        return self.layout.read_fingerprints(name) if name else {}

    def next_version(self) -> int:
        numbers = [int(n[1:]) for n in self.layout.names()]
        served = self.served()
        return max([*numbers, served.index_version if served else 0]) + 1

    # -- prepare ---------------------------------------------------------------------
    def prepare(self, schema: IndexSchema, next_version: int) -> Prepared:
        self.layout.versions.mkdir(parents=True, exist_ok=True)
        self._building = self.layout.versions / f"{version_name(next_version)}.building"
        shutil.rmtree(self._building, ignore_errors=True)
        for attempt in (self._from_standby, self._from_copy):
            base = attempt()
            if base is None:
                continue
            store = None
            try:
                store = EdgeStore.open(self._building, self.collection_name)
                store.ensure_schema(schema)
                return Prepared(store, base)
            except StoreError:  # unreadable, or another dense size: try the next base
                if store is not None:
                    store.close()
                shutil.rmtree(self._building, ignore_errors=True)
        return Prepared(EdgeStore.create(self._building, self.collection_name, schema, self.tuning), "new")

    def _from_standby(self) -> str | None:
        current = self.layout.current()
        for name in reversed(self.layout.names()):
            if name == current:
                continue
            lock = self.layout.lock(name)
            try:
                lock.acquire(0)
            except LockBusy:
                continue  # a reader is on it
            try:
                guard = self.layout.guard(name).acquire(GUARD_TIMEOUT_S)
            except LockBusy:
                lock.release()
                continue
            self._held += [(name, lock), (name, guard)]
            self.layout.folder(name).rename(self._building)  # type: ignore[arg-type]
            return f"standby {name}"
        return None

    def _from_copy(self) -> str | None:
        current = self.layout.current()
        if current is None:
            return None
        copy_version(self.layout, current, self._building, GUARD_TIMEOUT_S)  # type: ignore[arg-type]
        return f"copy of {current}"

    # -- publish or abandon ----------------------------------------------------------
    def publish(self, prepared: Prepared, state: IndexState, fingerprints: dict[str, str]) -> str:
        assert isinstance(prepared.store, EdgeStore) and self._building is not None
        prepared.store.flush()
        prepared.store.close()
        EdgeStore.open(self._building, self.collection_name).close()  # the engine's first-load rewrites, now
        name = version_name(state.index_version)
        self.layout.write_sidecars(name, state, fingerprints)
        self._building.rename(self.layout.folder(name))
        self._building = None
        self.layout.switch(name)
        self._release_held(remove_files=True)
        collect_garbage(self.layout)
        return name

    def abandon(self, prepared: Prepared) -> None:
        with contextlib.suppress(Exception):
            prepared.store.close()
        if self._building is not None:
            shutil.rmtree(self._building, ignore_errors=True)
            self._building = None
        self._release_held(remove_files=True)

    def _release_held(self, remove_files: bool) -> None:
        names = {name for name, _ in self._held}
        for _, lock in self._held:
            lock.release()
        self._held = []
        if remove_files:
            for name in names:  # the folder was renamed away; its state no longer describes anything
                self.layout.remove_version_files(name)

    def close(self) -> None:
        if self._building is not None:
            shutil.rmtree(self._building, ignore_errors=True)
        self._release_held(remove_files=True)
        self._writer.release()
