"""One materialization of a collection at a time: a file lock per collection beside the
intermediate storage, naming its holder so a waiting run can say whom it waits for."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..processes import ProcessRef


class CollectionBusy(RuntimeError):
    """Another process holds the collection's lock past the wait limit."""


def holder_of(lock_dir: Path, collection: str) -> str:
    path = lock_dir / f"{collection}.holder"
    try:
        ref = ProcessRef.from_token(path.read_text("utf-8").strip())
    except OSError:
        return "another process"
    return f"pid {ref.pid} on {ref.host}" if ref else "another process"


@contextlib.contextmanager
def collection_lock(lock_dir: Path, collection: str, timeout_s: float | None = None,
                    on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``collection``'s lock; when it is taken, say so through ``on_wait`` and wait up to
    ``timeout_s`` (None: as long as it takes), then raise :class:`CollectionBusy`."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_dir / f"{collection}.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = holder_of(lock_dir, collection)
        if on_wait is not None:
            on_wait(f"{collection} is being materialized by {holder}; waiting for it to finish")
        try:
            lock.acquire(timeout=-1 if timeout_s is None else timeout_s)
        except Timeout:
            raise CollectionBusy(f"{collection} is still being materialized by {holder} after {timeout_s:.0f}s; "
                                 "try again when it has finished") from None
    try:
        (lock_dir / f"{collection}.holder").write_text(ProcessRef.current().token(), "utf-8")
        yield
    finally:
        lock.release()
