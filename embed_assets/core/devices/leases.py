"""A host-wide ledger of VRAM reservations, shared by every process on the machine.

Dagster runs steps in separate processes, so leases are accounted in a JSON file
guarded by a file lock. A grant never lets the sum of live reservations on this host
pass the hard cap. An entry is live while its holder process exists — the same pid
*and* the same process start time, so a reused pid never keeps a dead holder's
reservation — and while the holder's heartbeat is fresh (a holder that hangs loses its
lease after ``ttl_s``). Entries of other hosts (a ledger on a shared home) are kept but
never counted here: VRAM is per host.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

from filelock import FileLock
from pydantic import BaseModel

from ..processes import ProcessRef

DEFAULT_TTL_S = 120.0


class LeaseEntry(BaseModel):
    lease_id: str
    pid: int
    stage: str
    device: str
    reserved_bytes: int
    granted_at: float
    host: str = ""
    pid_start: int | None = None
    heartbeat_at: float = 0.0
    ttl_s: float = DEFAULT_TTL_S

    @property
    def owner(self) -> ProcessRef:
        return ProcessRef(host=self.host, pid=self.pid, start=self.pid_start)

    def state(self, now: float) -> str:
        """'live', 'dead' (reclaimable) or 'foreign' (another host's)."""
        alive = self.owner.alive() if self.host else None
        if self.host and alive is None:
            return "foreign"
        if not self.host:  # written before entries named their host: the pid is all there is
            alive = ProcessRef(host=ProcessRef.current().host, pid=self.pid).alive()
        if not alive or now - max(self.heartbeat_at, self.granted_at) > self.ttl_s:
            return "dead"
        return "live"


class LeaseLedger:
    def __init__(self, folder: Path, ttl_s: float = DEFAULT_TTL_S) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "gpu_leases.json"
        self.lock = FileLock(str(folder / "gpu_leases.lock"))
        self.ttl_s = ttl_s

    def _read(self) -> list[LeaseEntry]:
        if not self.path.exists():
            return []
        try:
            return [LeaseEntry.model_validate(e) for e in json.loads(self.path.read_text("utf-8"))]
        except (ValueError, OSError):
            return []  # a torn or foreign file holds no valid reservation

    def _write(self, entries: list[LeaseEntry]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps([e.model_dump() for e in entries]), "utf-8")
        os.replace(tmp, self.path)

    def _live(self) -> tuple[list[LeaseEntry], list[LeaseEntry]]:
        """(entries to keep, the live ones of this host)."""
        now = time.time()
        states = [(e, e.state(now)) for e in self._read()]
        return [e for e, s in states if s != "dead"], [e for e, s in states if s == "live"]

    def held(self, device: str | None = None) -> list[LeaseEntry]:
        with self.lock:
            keep, live = self._live()
            self._write(keep)
        return [e for e in live if device is None or e.device == device]

    def try_acquire(self, stage: str, device: str, reserved_bytes: int, hard_cap_bytes: int) -> LeaseEntry | None:
        with self.lock:
            keep, live = self._live()
            used = sum(e.reserved_bytes for e in live if e.device == device)
            if used + reserved_bytes > hard_cap_bytes:
                self._write(keep)
                return None
            me = ProcessRef.current()
            now = time.time()
            entry = LeaseEntry(lease_id=uuid.uuid4().hex, pid=me.pid, stage=stage, device=device,
                               reserved_bytes=reserved_bytes, granted_at=now, host=me.host, pid_start=me.start,
                               heartbeat_at=now, ttl_s=self.ttl_s)
            self._write([*keep, entry])
            return entry

    def acquire(self, stage: str, device: str, reserved_bytes: int, hard_cap_bytes: int,
                timeout_s: float = 0.0, poll_s: float = 0.05) -> LeaseEntry | None:
        """Wait up to ``timeout_s`` for room under the hard cap; None when there is none."""
        deadline = time.monotonic() + timeout_s
        while True:
            entry = self.try_acquire(stage, device, reserved_bytes, hard_cap_bytes)
            if entry is not None or time.monotonic() >= deadline:
                return entry
            time.sleep(poll_s)

    def heartbeat(self, lease_id: str) -> bool:
        """Refresh a held lease; False when it is gone (expired and reclaimed)."""
        with self.lock:
            entries = self._read()
            found = False
            for e in entries:
                if e.lease_id == lease_id:
                    e.heartbeat_at, found = time.time(), True
            self._write(entries)
        return found

    def release(self, lease_id: str) -> None:
        with self.lock:
            keep, _ = self._live()
            self._write([e for e in keep if e.lease_id != lease_id])


class Heartbeat:
    """Refreshes a lease from a daemon thread while it is held (a context manager)."""

    def __init__(self, ledger: LeaseLedger, lease_id: str) -> None:
        self.ledger, self.lease_id = ledger, lease_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-heartbeat-{lease_id[:8]}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.ledger.ttl_s / 3):
            self.ledger.heartbeat(self.lease_id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
