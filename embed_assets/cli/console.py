"""What every command prints through: progress lines on stderr, quiet library warnings."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import dagster as dg

from embed_assets.core.settings import get_settings
from embed_assets.runs.instance import open_instance


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("embed_assets.progress")
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def cli_instance() -> tuple[dg.DagsterInstance, Path]:
    """The command line's instance: ``$DAGSTER_HOME`` or the embedded one under the project."""
    home = get_settings().resolved_dagster_home
    return open_instance(home), home
