"""Point ids. The engines take UUIDs or unsigned integers; a chunk id is neither, so a
point's id is a UUID derived from it (uuid5 in a fixed namespace: the same chunk id gives
the same point id on every machine and run), and the chunk id travels in the payload."""

from __future__ import annotations

import uuid

# Fixed forever: changing it would re-key every index.
POINT_NAMESPACE = uuid.UUID("6f0c3b1e-8f43-5b7a-9c59-2f1d6c0e4a17")


def point_id(chunk_id: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, chunk_id))


def normalize_id(value: object) -> str:
    """A point id as the engines return it (``uuid.UUID`` or ``str``) in canonical text form."""
    return str(uuid.UUID(str(value)))
