"""Which process owns something: host, pid and the pid's start time (so a reused pid is
never mistaken for the owner), and whether that owner is still alive."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from pydantic import BaseModel


@lru_cache(maxsize=1)
def host_name() -> str:
    return socket.gethostname()


def _safe(host: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in host)


def process_start(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), or None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[19])  # field 22 of stat; fields after the command start at field 3
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessRef(BaseModel):
    host: str
    pid: int
    start: int | None = None

    @classmethod
    def current(cls) -> ProcessRef:
        return cls(host=host_name(), pid=os.getpid(), start=process_start(os.getpid()))

    @property
    def local(self) -> bool:
        return _safe(self.host) == _safe(host_name())

    def alive(self) -> bool | None:
        """True/False for a process of this host; None for another host's (unknowable here)."""
        if not self.local:
            return None
        if not pid_alive(self.pid):
            return False
        return self.start is None or process_start(self.pid) == self.start

    def token(self) -> str:
        """A file-name-safe form: ``<host>.<pid>.<start>``."""
        return f"{_safe(self.host)}.{self.pid}.{self.start or 0}"

    @classmethod
    def from_token(cls, token: str) -> ProcessRef | None:
        host, _, rest = token.rpartition(".")
        host, _, pid = host.rpartition(".")
        try:
            return cls(host=host, pid=int(pid), start=int(rest) or None)
        except ValueError:
            return None
