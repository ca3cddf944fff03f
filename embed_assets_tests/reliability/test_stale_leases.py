"""A GPU lease lives as long as its holder — the same process, heartbeating — and no longer:
a reused pid or a hung holder never blocks the GPU."""

import json
import os
import time
from pathlib import Path

from embed_assets.core.devices.leases import LeaseLedger
from embed_assets.core.processes import ProcessRef
from embed_assets.resources import GpuLeaseResource

GB = 1024**3


def _write_entry(folder: Path, **fields: object) -> None:
    me = ProcessRef.current()
    entry = {"lease_id": "stale", "pid": me.pid, "stage": "dense", "device": "sim:0", "reserved_bytes": 10 * GB,
             "granted_at": time.time(), "host": me.host, "pid_start": me.start, "heartbeat_at": time.time(),
             "ttl_s": 120.0, **fields}
    (folder / "gpu_leases.json").write_text(json.dumps([entry]))


def test_a_reused_pid_does_not_hold_a_lease(tmp_path: Path) -> None:
    parent = os.getppid()  # alive, but it never took this lease: its start time differs from the entry's
    _write_entry(tmp_path, pid=parent, pid_start=(ProcessRef.current().start or 0) + 12345)
    ledger = LeaseLedger(tmp_path)
    started = time.monotonic()
    entry = ledger.acquire("dense", "sim:0", 10 * GB, 12 * GB, timeout_s=5)
    assert entry is not None and time.monotonic() - started < 1.0
    assert [e.lease_id for e in ledger.held()] == [entry.lease_id]


def test_a_holder_that_stops_heartbeating_loses_its_lease(tmp_path: Path) -> None:
    _write_entry(tmp_path, heartbeat_at=time.time() - 600, granted_at=time.time() - 600)
    assert LeaseLedger(tmp_path).try_acquire("dense", "sim:0", 10 * GB, 12 * GB) is not None


def test_a_live_holder_keeps_its_lease_past_the_ttl_by_heartbeating(tmp_path: Path) -> None:
    gpu = GpuLeaseResource(simulated="memory_gb=16", ledger_dir=str(tmp_path), lease_ttl_s=0.6, wait_timeout_s=0)
    with gpu.lease("dense", 10 * GB) as lease:
        assert lease.device == "sim:0"
        time.sleep(2.0)  # three ttls: only the heartbeat keeps the entry alive
        other = gpu.ledger().try_acquire("sparse", "sim:0", 10 * GB, gpu.hard_cap_bytes)
        assert other is None, "the holder's lease expired while it was held"
    assert gpu.ledger().held() == []
