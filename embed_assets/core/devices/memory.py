"""Giving freed heap memory back to the operating system.

Batches of varying shapes leave glibc's heap fragmented: peak RSS then grows with the
collection although each batch is bounded. ``malloc_trim`` after a batch returns the
free pages (about a millisecond); on other C libraries this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
        return lib if lib is not None and hasattr(lib, "malloc_trim") else None
    except OSError:
        return None


def trim_heap() -> None:
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
