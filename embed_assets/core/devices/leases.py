"""A host-wide ledger of VRAM reservations, shared by every process on the machine.

Dagster runs steps in separate processes, so leases are accounted in a JSON file
guarded by a file lock. A grant never lets the sum of live reservations pass the
hard cap; entries of processes that died are reclaimed on the next access.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

from filelock import FileLock
from pydantic import BaseModel


class LeaseEntry(BaseModel):
    lease_id: str
    pid: int
    stage: str
    device: str
    reserved_bytes: int
    granted_at: float


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LeaseLedger:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "gpu_leases.json"
        self.lock = FileLock(str(folder / "gpu_leases.lock"))

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

    def _live(self) -> tuple[list[LeaseEntry], int]:
        entries = self._read()
        live = [e for e in entries if _alive(e.pid)]
        return live, len(entries) - len(live)

    def held(self, device: str | None = None) -> list[LeaseEntry]:
        with self.lock:
            live, reclaimed = self._live()
            if reclaimed:
                self._write(live)
        return [e for e in live if device is None or e.device == device]

    def try_acquire(self, stage: str, device: str, reserved_bytes: int, hard_cap_bytes: int) -> LeaseEntry | None:
        with self.lock:
            live, _ = self._live()
            used = sum(e.reserved_bytes for e in live if e.device == device)
            if used + reserved_bytes > hard_cap_bytes:
                self._write(live)
                return None
            entry = LeaseEntry(lease_id=uuid.uuid4().hex, pid=os.getpid(), stage=stage, device=device,
                               reserved_bytes=reserved_bytes, granted_at=time.time())
            self._write([*live, entry])
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

    def release(self, lease_id: str) -> None:
        with self.lock:
            live, _ = self._live()
            self._write([e for e in live if e.lease_id != lease_id])
