"""How a new index version replaces the served one, whatever the backend: prepare a
store that is not served (the standby), let the caller bring it to the export's content,
then switch readers to it in one atomic step — or abandon it and keep the served one."""

from __future__ import annotations

import abc

from .state import IndexState
from .store import IndexSchema, VectorStore


class Prepared:
    """A store being brought up to date, and where it started from."""

    def __init__(self, store: VectorStore, base: str) -> None:
        self.store = store
        self.base = base


class IndexPublisher(abc.ABC):
    """Holds the collection's writer lock from creation to :meth:`close`."""

    backend: str
    location: str
    collection_name: str

    @abc.abstractmethod
    def served(self) -> IndexState | None:
        """The state of the version readers see now, if any."""

    @abc.abstractmethod
    def served_name(self) -> str | None:
        """The physical name (version folder, collection) readers see now."""

    @abc.abstractmethod
    def served_fingerprints(self) -> dict[str, str]:
        """Point id → fingerprint of the served version (empty when none)."""

    @abc.abstractmethod
    def next_version(self) -> int:
        """The number the next published version gets."""

    @abc.abstractmethod
    def prepare(self, schema: IndexSchema, next_version: int) -> Prepared:
        """A store with ``schema`` that readers do not see."""

    @abc.abstractmethod
    def publish(self, prepared: Prepared, state: IndexState, fingerprints: dict[str, str]) -> str:
        """Switch readers to ``prepared`` atomically; returns the physical name now served."""

    @abc.abstractmethod
    def abandon(self, prepared: Prepared) -> None:
        """Drop ``prepared`` after a failure; the served version stays."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> IndexPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
