"""A cheap fingerprint of a collection folder's state — every input file's path, size and
modification time — to notice new and changed collections without reading their content
(the content fingerprint in the manifest is the exact one)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .discovery import walk_inputs


def folder_state(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(walk_inputs(folder)):
        try:
            st = path.stat()
        except OSError:
            continue  # vanished or unreadable between listing and stat: the reader records it
        digest.update(f"{path.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
