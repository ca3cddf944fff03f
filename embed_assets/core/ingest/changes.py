"""A cheap fingerprint of a collection folder's state — every entry's path, and an input
file's size and modification time — to notice new and changed collections without reading
their content (the content fingerprint in the manifest is the exact one).

It follows the same contained walk as reading (:mod:`.walk`): links out of the folder,
loops and special files count by their path and skip reason, never by what they point at,
so a link to the data root cannot make it walk for ever, and what changes outside the
collection never looks like a change of it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .walk import InputFile, walk_collection


def folder_state(folder: Path) -> str:
    digest = hashlib.sha256()
    for entry in walk_collection(folder).entries:
        if isinstance(entry, InputFile):
            digest.update(f"{entry.rel}\0{entry.size}\0{entry.mtime_ns}\n".encode())
        else:
            digest.update(f"{entry.rel}\0skipped:{entry.reason.value}\n".encode())
    return digest.hexdigest()
