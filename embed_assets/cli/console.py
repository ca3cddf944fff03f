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
from embed_assets.core.progress import set_progress_factory
from embed_assets.core.settings import Settings, get_settings, settings_errors


class _Bar:
    """A tqdm bar as a core progress: chunks done, chunks/s and the time left."""

    def __init__(self, description: str, total: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=description, unit="chunk", file=sys.stderr, dynamic_ncols=True,
                        leave=False, mininterval=0.5)

    def advance(self, n: int) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def setup_logging(quiet: bool = False) -> None:
    """Stage lines on stderr and, on a terminal, a progress bar per encode (none with ``quiet``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("embed_assets.progress")
    progress.addHandler(handler)
    progress.setLevel(logging.WARNING if quiet else logging.INFO)
    progress.propagate = False
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    set_progress_factory(_Bar if sys.stderr.isatty() and not quiet else None)


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
    onnx = {settings.encoder_backend, settings.dense_backend, settings.sparse_backend} - {None, "torch"}
    result = preflight(export_root, [m.ref for m in settings.dense_model_refs], settings.sparse_model,
                       settings.resolved_model_cache if onnx else None)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for problem in result.errors:
        error(problem)
    return not result.errors


def cli_instance(data_root: Path) -> tuple[Any, Path]:
    """The Dagster instance of ``data_root``: ``$DAGSTER_HOME``, or the embedded one of that
    data root. Raises ``InstanceBoundElsewhere`` when the instance serves another data root."""
    from embed_assets.runs.instance import open_instance

    home = get_settings().dagster_home_for(data_root)
    return open_instance(home, data_root), home
