"""The Dagster instance the command line uses: ``$DAGSTER_HOME``, or the embedded SQLite
instance under the project. Its first initialisation runs under a file lock, so several
commands started at once on a fresh home never race on the storage schema.

The embedded instance's ``dagster.yaml`` turns telemetry off, lets the run queue start at
most one run per partition (collection) at a time, and turns on run monitoring, so runs
launched from the UI whose worker died are marked failed. (Runs of the command line are
in-process: the runner locks per collection and marks its own dead runs failed.)"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from filelock import FileLock

LEGACY_CONFIG = "telemetry:\n  enabled: false\n"
EMBEDDED_CONFIG = """telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 60
concurrency:
  runs:
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""
INIT_LOCK = ".embed_assets-init.lock"
DATA_ROOT_MARKER = "embed_assets.json"


class InstanceBoundElsewhere(RuntimeError):
    """The instance already serves another data root: its partitions would point at folders
    the UI's definitions do not know."""


def open_instance(home: Path, data_root: Path | None = None) -> dg.DagsterInstance:
    """The instance at ``home``, created (with the embedded ``dagster.yaml``) when new. With
    ``data_root``, an embedded instance (local SQLite storage) is bound to it: the first data root
    that uses it is the only one it serves (:class:`InstanceBoundElsewhere` otherwise). An
    instance whose ``dagster.yaml`` names its own storage (Postgres, written by
    ``embed-collections instance``) is shared on purpose by several hosts, each with its own
    data root folder, and is never bound."""
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / INIT_LOCK)):
        config = home / "dagster.yaml"
        if not config.exists() or config.read_text("utf-8") == LEGACY_CONFIG:
            config.write_text(EMBEDDED_CONFIG, "utf-8")
        if data_root is not None and not _names_storage(config):
            _bind(home, data_root.resolve())
        return dg.DagsterInstance.from_config(str(home))


def _names_storage(config: Path) -> bool:
    import yaml

    loaded = yaml.safe_load(config.read_text("utf-8")) or {}
    return any(key in loaded for key in ("storage", "run_storage", "event_log_storage"))


def _bind(home: Path, data_root: Path) -> None:
    marker = home / DATA_ROOT_MARKER
    if not marker.is_file():
        marker.write_text(json.dumps({"data_root": str(data_root)}), "utf-8")
        return
    bound = json.loads(marker.read_text("utf-8")).get("data_root")
    if bound != str(data_root):
        raise InstanceBoundElsewhere(
            f"the Dagster instance {home} serves the data root {bound}, not {data_root}; run without DAGSTER_HOME "
            f"(each data root gets its own instance under it) or point DAGSTER_HOME at another folder")
