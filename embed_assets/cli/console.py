"""What every command prints through: progress lines on stderr, quiet library warnings."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from embed_assets.core.preflight import preflight
from embed_assets.core.settings import Settings, get_settings, settings_errors


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("embed_assets.progress")
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_empty_query(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the query is empty")
    return text


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def load_settings() -> Settings | None:
    """The settings, or None after saying which variables are wrong."""
    try:
        return get_settings()
    except ValidationError as exc:
        for line in settings_errors(exc):
            error(f"setting {line}")
        return None


def checked(settings: Settings, export_root: Path) -> bool:
    """Preflight before any embedding work: errors stop the command, warnings are printed."""
    result = preflight(export_root, [m.ref for m in settings.dense_model_refs], settings.sparse_model)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in result.errors:
        error(problem)
    return not result.errors


def cli_instance() -> tuple[Any, Path]:
    """The command line's Dagster instance: ``$DAGSTER_HOME`` or the embedded one under the project."""
    from embed_assets.runs.instance import open_instance

    home = get_settings().resolved_dagster_home
    return open_instance(home), home
