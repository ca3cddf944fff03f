"""Leases across real processes, and the simulated device's fault injection."""

import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
import torch

from embed_assets.core.devices.leases import LeaseLedger
from embed_assets.core.devices.simulated import SimulatedGpu, SimulatedGpuSpec
from embed_assets.resources import GpuLeaseResource

GB = 1024**3
SIM = "memory_gb=16"


def _hold(ledger_dir: str, log_path: str, hold_s: float, gb: float) -> None:
    """Child process: lease ``gb`` of the shared simulated budget and record what it saw."""
    resource = GpuLeaseResource(simulated=SIM, ledger_dir=ledger_dir, wait_timeout_s=30)
    with resource.lease("dense", int(gb * GB)) as lease:
        held = sum(e.reserved_bytes for e in resource.ledger().held(lease.device))
        time.sleep(hold_s)
    with open(log_path, "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "device": lease.device, "held": held}) + "\n")


def _crash_holding(ledger_dir: str) -> None:
    resource = GpuLeaseResource(simulated=SIM, ledger_dir=ledger_dir)
    with resource.lease("sparse", 12 * GB):
        os._exit(1)  # dies without releasing


def test_processes_leasing_together_never_hold_more_than_the_hard_cap(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    log = tmp_path / "log.jsonl"
    procs = [ctx.Process(target=_hold, args=(str(tmp_path), str(log), 0.6, 5.0)) for _ in range(4)]
    started = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == 4 and {r["device"] for r in rows} == {"sim:0"}
    assert max(r["held"] for r in rows) <= 12 * GB  # at most two 5 GB leases at once under 12 GB
    assert time.monotonic() - started >= 1.2  # so the four leases were serialized two by two
    assert LeaseLedger(tmp_path).held() == []


def test_a_lease_held_by_a_crashed_process_is_reclaimed(tmp_path: Path) -> None:
    child = mp.get_context("spawn").Process(target=_crash_holding, args=(str(tmp_path),))
    child.start()
    child.join(60)
    assert child.exitcode == 1
    assert json.loads((tmp_path / "gpu_leases.json").read_text())[0]["reserved_bytes"] == 12 * GB
    resource = GpuLeaseResource(simulated=SIM, ledger_dir=str(tmp_path), wait_timeout_s=0)
    with resource.lease("dense", 12 * GB) as lease:
        assert lease.device == "sim:0" and lease.reason.startswith("granted")


def test_no_room_means_cpu_and_leases_are_released_on_errors(tmp_path: Path) -> None:
    resource = GpuLeaseResource(simulated=SIM, ledger_dir=str(tmp_path), wait_timeout_s=0.1)
    with resource.lease("dense", 10 * GB) as first:
        with resource.lease("sparse", 4 * GB) as second:
            assert first.device == "sim:0" and second.device == "cpu"
            assert "budget exhausted" in second.reason and second.devices() == ["cpu"]
    with pytest.raises(RuntimeError), resource.lease("dense", 10 * GB):
        raise RuntimeError("stage failed")
    assert resource.ledger().held() == []
    assert GpuLeaseResource(device="cpu").device_kind == "cpu"


def test_simulated_spec_parsing_and_errors() -> None:
    spec = SimulatedGpuSpec.parse("memory_gb=8, oom_above_batch=16, oom_at_calls=2+5, stages=sparse, cpu_oom_after=3")
    assert (spec.memory_gb, spec.oom_above_batch, spec.oom_at_calls, spec.stages, spec.cpu_oom_after) == (
        8.0, 16, [2, 5], ["sparse"], 3)
    with pytest.raises(ValueError, match="unknown key"):
        SimulatedGpuSpec.parse("memory=8")
    with pytest.raises(ValueError, match="key=value"):
        SimulatedGpuSpec.parse("oom_always")


def test_simulated_memory_model_enforces_the_capacity_and_hard_cap() -> None:
    sim = SimulatedGpu(SimulatedGpuSpec(memory_gb=16, weights_gb=1, bytes_per_token=GB // 100), hard_cap_bytes=2 * GB)
    sim.before_batch("dense", "sim:0", 8, 50)  # 1 GB + 0.5 GB fits under the 2 GB cap
    assert sim.memory_used() == GB + 50 * (GB // 100) == sim.peak
    with pytest.raises(torch.OutOfMemoryError, match="simulated"):
        sim.before_batch("dense", "sim:0", 16, 200)  # 3 GB does not
    sim.before_batch("dense", "cpu", 512, 10**9)  # the CPU is not modelled unless asked
