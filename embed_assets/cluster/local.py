"""A real cluster on this machine, under one temporary folder: PostgreSQL (the Dagster
instance), Redis (the Celery broker and result backend), Celery workers and the Dagster
daemon (run queue, backfills, sensors, run monitoring) — the same processes a deployment
runs on many machines. Runs launched here go through the daemon and the Celery executor,
never in-process. ``stop()`` stops every process by PID and says what (if anything) is left.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
from pydantic import BaseModel, Field

from embed_assets.core.settings import get_settings
from embed_assets.defs.steps import DEFAULT_QUEUE, GPU_POOL, GPU_QUEUE
from embed_assets.runs.instance_config import DEFAULT_PASSWORD_ENV, parse_postgres_url, postgres_instance_config, render

from .servers import Postgres, Redis
from .services import Service, ServiceError, session_members, wait_until

WORKSPACE = """load_from:
  - python_module:
      module_name: embed_assets.defs.definitions
      attribute: defs
      location_name: embed_assets
"""


class WorkerSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    queues: list[str] = Field(default_factory=lambda: [GPU_QUEUE, DEFAULT_QUEUE])
    threads: int = Field(default=1, ge=1, description="torch threads of the worker's process")


class LocalCluster:
    def __init__(self, data_root: Path | None = None, root: Path | None = None, gpu_slots: int = 2,
                 max_runs: int = 4) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix="embed-cluster-"))
        os.chmod(self.root, 0o755)  # the servers' accounts must reach their folders inside
        self.data_root = data_root or self.root / "data"
        self.gpu_slots, self.max_runs = gpu_slots, max_runs
        self.home = self.root / "dagster_home"
        self.postgres = Postgres(self.root / "postgres")
        self.redis = Redis(self.root / "redis")
        self.workers: dict[str, Service] = {}
        self.daemon: Service | None = None
        self.sessions: list[int] = []

    @property
    def workspace(self) -> Path:
        return self.home / "workspace.yaml"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment every process of the cluster gets (a deployment sets the same)."""
        bin_dir = str(Path(sys.executable).parent)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBED_ASSETS_", "DAGSTER_"))}
        env.update({
            "PATH": f"{bin_dir}:{env.get('PATH', '')}", "DAGSTER_HOME": str(self.home),
            DEFAULT_PASSWORD_ENV: self.postgres.password, "EMBED_ASSETS_EXECUTOR": "celery",
            "EMBED_ASSETS_CELERY_BROKER": self.redis.url(0), "EMBED_ASSETS_CELERY_BACKEND": self.redis.url(1),
            "EMBED_ASSETS_DATA_ROOT": str(self.data_root), "EMBED_ASSETS_GPU_LEDGER_DIR": str(self.root / "gpu_leases"),
            "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            # Every worker loads the graphs this host exported once (never one export per worker).
            "EMBED_ASSETS_MODEL_CACHE": str(get_settings().resolved_model_cache),
            # The demo measures backfills: with the change sensor on, the daemon would also launch
            # a run for every collection it finds new, and each collection would run twice.
            "EMBED_ASSETS_AUTOMATION": "0", **extra})
        return env

    def instance(self) -> dg.DagsterInstance:
        """The instance, opened in this process (its config names the password's variable)."""
        return dg.DagsterInstance.from_config(str(self.home))

    def start_servers(self) -> None:
        os.environ[DEFAULT_PASSWORD_ENV] = self.postgres.password
        self.postgres.start()
        self._track(self.postgres.service)
        self.redis.start()
        self._track(self.redis.service)
        config = postgres_instance_config(parse_postgres_url(self.postgres.url), DEFAULT_PASSWORD_ENV, self.max_runs)
        config.update({"auto_materialize": {"enabled": False}, "run_retries": {"enabled": False}})
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "dagster.yaml").write_text(render(config), "utf-8")
        self.workspace.write_text(WORKSPACE, "utf-8")
        with self.instance() as instance:  # creates the schema; the pool limit lives in the database
            instance.event_log_storage.set_concurrency_slots(GPU_POOL, self.gpu_slots)

    def _track(self, service: Service | None) -> None:
        if service is not None:
            self.sessions.append(service.pid)

    def start_workers(self, specs: list[WorkerSpec]) -> None:
        from celery import Celery

        for spec in specs:
            threads = str(spec.threads)
            argv = [sys.executable, "-m", "celery", "-A", "embed_assets.runs.celery_app", "worker", "-Q",
                    ",".join(spec.queues), "-c", "1", "-n", f"{spec.name}@%h", "--prefetch-multiplier=1", "-l", "INFO",
                    "--without-mingle", "--without-gossip"]
            service = Service.start(f"worker {spec.name}", argv, self.root / f"worker-{spec.name}.log", cwd=self.root,
                                    env=self.env(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads))
            self.workers[spec.name] = service
            self._track(service)
        probe = Celery(broker=self.redis.url(0), backend=self.redis.url(1))
        expected = {s.name for s in specs}

        def all_answer() -> bool:
            answers = {name.split("@")[0] for reply in probe.control.ping(timeout=1.0) for name in reply}
            return expected <= answers

        for service in self.workers.values():
            service.check_alive()
        wait_until(f"workers {sorted(expected)}", all_answer, 120)

    def stop_workers(self) -> None:
        for service in self.workers.values():  # signal all at once: their warm shutdowns overlap
            if service.alive():
                service.process.send_signal(service.stop_signal)
        for service in self.workers.values():
            service.stop()
        self.workers = {}

    def start_daemon(self) -> None:
        daemon = str(Path(sys.executable).parent / "dagster-daemon")
        self.daemon = Service.start("dagster-daemon", [daemon, "run", "-w", str(self.workspace)],
                                    self.root / "daemon.log", cwd=self.root, env=self.env())
        self._track(self.daemon)
        with self.instance() as instance:
            def coordinator_alive() -> bool:
                beats = instance.get_daemon_heartbeats()
                beat = beats.get("QUEUED_RUN_COORDINATOR")
                return beat is not None and time.time() - beat.timestamp < 60

            wait_until("dagster-daemon", coordinator_alive, 180, self.daemon, poll_s=1.0)

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.stop(60)
            self.daemon = None

    def stop(self) -> list[int]:
        """Stop everything (workers and daemon first, then the servers); the PIDs still alive."""
        self.stop_workers()
        self.stop_daemon()
        self.redis.stop()
        self.postgres.stop()
        return session_members(self.sessions)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["LocalCluster", "ServiceError", "WorkerSpec"]
