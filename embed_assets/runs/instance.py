"""The Dagster instance the command line uses: ``$DAGSTER_HOME``, or the embedded SQLite
instance under the project. Its first initialisation runs under a file lock, so several
commands started at once on a fresh home never race on the storage schema.

The embedded instance's ``dagster.yaml`` turns telemetry off, lets the run queue start at
most one run per partition (collection) at a time, and turns on run monitoring, so runs
launched from the UI whose worker died are marked failed. (Runs of the command line are
in-process: the runner locks per collection and marks its own dead runs failed.)"""

from __future__ import annotations

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


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance at ``home``, created (with a minimal ``dagster.yaml``) when new."""
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / INIT_LOCK)):
        config = home / "dagster.yaml"
        if not config.exists() or config.read_text("utf-8") == LEGACY_CONFIG:
            config.write_text(EMBEDDED_CONFIG, "utf-8")
        return dg.DagsterInstance.from_config(str(home))
