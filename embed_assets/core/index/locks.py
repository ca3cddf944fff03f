"""Advisory file locks (``flock``) with a timeout.

Edge opens a shard folder for writing even to read it, and a second opener damages the
first before it notices the engine's own lock, so every opener of a folder takes one of
these first. ``flock`` locks belong to an open file description: they are released when
the process dies, and two opens in one process exclude each other as two processes do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

POLL_S = 0.05


class LockBusy(TimeoutError):
    """The lock is held by another holder and was not released within the timeout."""


class FileLock:
    """An exclusive lock on ``path`` (created when missing; never deleted on release)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout_s: float = 0.0) -> FileLock:
        """Take the lock, waiting up to ``timeout_s`` (0: try once; negative: wait forever)."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return self
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    os.close(fd)
                    raise
            if 0 <= timeout_s and time.monotonic() >= deadline:
                os.close(fd)
                raise LockBusy(f"{self.path.name} is held by another process")
            time.sleep(POLL_S)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> FileLock:
        return self if self.held else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(path: Path, timeout_s: float) -> Iterator[FileLock]:
    lock = FileLock(path).acquire(timeout_s)
    try:
        yield lock
    finally:
        lock.release()
