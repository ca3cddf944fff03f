"""The Dagster instance the command line uses: ``$DAGSTER_HOME``, or the embedded SQLite
instance under the project. Its first initialisation runs under a file lock, so several
commands started at once on a fresh home never race on the storage schema."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from filelock import FileLock

EMBEDDED_CONFIG = "telemetry:\n  enabled: false\n"
INIT_LOCK = ".embed_assets-init.lock"


def open_instance(home: Path) -> dg.DagsterInstance:
    """The instance at ``home``, created (with a minimal ``dagster.yaml``) when new."""
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(home / INIT_LOCK)):
        config = home / "dagster.yaml"
        if not config.exists():  # the embedded instance: SQLite under the home, no telemetry
            config.write_text(EMBEDDED_CONFIG, "utf-8")
        return dg.DagsterInstance.from_config(str(home))
