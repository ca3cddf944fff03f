"""The one place that hashes: text, files, and sets of files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BLOCK = 1 << 20


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def update_with_file(digest: Any, path: Path) -> None:
    """Feed ``path``'s bytes into ``digest`` a block at a time."""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    update_with_file(digest, path)
    return digest.hexdigest()


def files_sha256(paths: Iterable[Path]) -> str:
    """One sha256 over the bytes of several files, in the order given."""
    digest = hashlib.sha256()
    for path in paths:
        update_with_file(digest, path)
    return digest.hexdigest()
