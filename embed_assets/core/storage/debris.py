"""What a killed process leaves behind — temporary files, staging folders, half-switched
links — named after their owner (host, pid, pid start), so a later run can tell debris
from work in progress: the owner is dead on this host, or (another host's, or nameless)
it is older than ``stale_after_s``."""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from pathlib import Path

from ..processes import ProcessRef

STALE_AFTER_S = 6 * 3600.0
MARKERS = (".tmp-", ".link-", ".staging-")


def owned_name(prefix: str) -> str:
    """``<prefix><owner token>-<random>``: a temporary name that says who made it."""
    return f"{prefix}{ProcessRef.current().token()}-{uuid.uuid4().hex[:8]}"


def owner_of(name: str) -> ProcessRef | None:
    for marker in MARKERS:
        if marker in name:
            token = name.split(marker, 1)[1].rsplit("-", 1)[0]
            return ProcessRef.from_token(token)
    return None


def is_debris(path: Path, stale_after_s: float = STALE_AFTER_S, owner: ProcessRef | None = None) -> bool:
    owner = owner or owner_of(path.name)
    alive = owner.alive() if owner is not None else None
    if alive is not None:
        return not alive
    try:
        return time.time() - path.lstat().st_mtime > stale_after_s
    except FileNotFoundError:
        return False


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_debris(folder: Path, stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the dead owners' temporary entries directly in ``folder``; returns them."""
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if entry.name.startswith(".") and any(m in entry.name for m in MARKERS) and is_debris(entry, stale_after_s):
            remove(entry)
            removed.append(entry)
    return removed
