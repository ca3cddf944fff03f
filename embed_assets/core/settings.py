"""Where things live by default: the project home, the data root and the Dagster home.

Every default can be overridden by an environment variable, and the CLI overrides
them again with flags.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "EMBED_ASSETS_HOME"
DATA_ROOT_ENV = "EMBED_ASSETS_DATA_ROOT"
EXPORT_ROOT_ENV = "EMBED_ASSETS_EXPORT_ROOT"


def project_home() -> Path:
    """The folder that holds the embedded defaults.

    ``$EMBED_ASSETS_HOME`` when set; else the source checkout this package lives in
    (the folder with ``pyproject.toml``); else the current directory.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "embed_assets").is_dir():
        return checkout
    return Path.cwd().resolve()


def data_root() -> Path:
    """The data root: ``collections/`` below it holds one folder per collection."""
    env = os.environ.get(DATA_ROOT_ENV)
    return Path(env).expanduser().resolve() if env else project_home() / "data"


def collections_dir(root: Path | None = None) -> Path:
    return (root or data_root()) / "collections"


def export_root(root: Path | None = None) -> Path:
    env = os.environ.get(EXPORT_ROOT_ENV)
    if env and root is None:
        return Path(env).expanduser().resolve()
    return (root or data_root()) / "exports"


def storage_root(root: Path | None = None) -> Path:
    """Where the IO manager keeps each asset's Parquet output between steps."""
    return (root or data_root()) / "storage"


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` when set, else the embedded SQLite instance under the project."""
    env = os.environ.get("DAGSTER_HOME")
    return Path(env).expanduser().resolve() if env else project_home() / ".dagster"
