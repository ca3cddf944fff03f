"""Progress of long encodes, for whoever shows it (the command line draws bars).

Encoders open a :func:`progress` for each pass and advance it per finished batch; without
a reporter installed (the default: Dagster runs, tests) it does nothing and costs nothing.
Progress is never written to the Dagster event log (one line per batch would flood it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol


class Progress(Protocol):
    def advance(self, n: int) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def advance(self, n: int) -> None:
        return None

    def close(self) -> None:
        return None


ProgressFactory = Callable[[str, int], Progress]
"""``factory(description, total)`` -> a progress for ``total`` items."""
_FACTORY: list[ProgressFactory | None] = [None]


def set_progress_factory(factory: ProgressFactory | None) -> None:
    """Install (or with None, remove) the process's progress reporter."""
    _FACTORY[0] = factory


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Progress]:
    factory = _FACTORY[0]
    bar: Progress = factory(description, total) if factory is not None and total > 0 else _Silent()
    try:
        yield bar
    finally:
        bar.close()
