"""Where a collection's index lives — an Edge folder under the index root, or a Qdrant
server by URL — and how to open it for writing (a publisher) or for reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..settings import Settings
from .aliases import ServerPublisher, alias_name, aliased_collection, read_state
from .edge import EdgeStore, EdgeTuning
from .edge_publisher import EdgePublisher
from .publisher import IndexPublisher
from .reader import EdgeReader
from .server import ServerStore, call_client, connect, redact_url
from .state import IndexState
from .store import Backend, VectorStore
from .versions import IndexNotFound


class IndexTarget(BaseModel):
    """The index of every collection: Edge under ``root`` unless ``url`` names a server."""

    model_config = ConfigDict(frozen=True)

    root: Path = Field(description="Edge folders (and the writer locks of server indexes) live here.")
    url: str | None = Field(default=None, description="http(s)://… for a server, file:///… for local mode.")
    api_key: SecretStr | None = Field(default=None, repr=False)
    prefix: str = Field(default="", description="Prepended to a collection's name on a server.")
    tuning: EdgeTuning = Field(default_factory=EdgeTuning)
    lock_timeout_s: float = Field(default=60.0, description="How long a run waits for another run's writer lock.")

    @classmethod
    def from_settings(cls, settings: Settings, data_root: Path | None = None, **overrides: Any) -> IndexTarget:
        """The target the settings describe (``data_root`` places the Edge root under it)."""
        values: dict[str, Any] = {"root": settings.index_root_for(data_root), "url": settings.qdrant_url,
                                  "api_key": settings.qdrant_api_key, "prefix": settings.qdrant_prefix,
                                  "lock_timeout_s": settings.index_lock_timeout_s}
        return cls(**{**values, **{k: v for k, v in overrides.items() if v is not None}})

    @property
    def backend(self) -> Backend:
        return "qdrant" if self.url else "edge"

    @property
    def location(self) -> str:
        """Where, with any credentials removed."""
        return redact_url(self.url) if self.url else str(self.root)

    def folder(self, collection: str) -> Path:
        return self.root / collection

    def collection_name(self, collection: str) -> str:
        return alias_name(self.prefix, collection) if self.url else collection

    def publisher(self, collection: str) -> IndexPublisher:
        if self.url is None:
            return EdgePublisher(self.folder(collection), collection, self.tuning, self.lock_timeout_s)
        self.folder(collection).mkdir(parents=True, exist_ok=True)
        return ServerPublisher(connect(self.url, self.api_key), self.location, collection, self.prefix,
                               self.folder(collection), self.lock_timeout_s)

    def reader(self, collection: str, *, wait_s: float = 2.0, private_copy: bool = True,
               version: str | None = None) -> IndexReader:
        if self.url is None:
            return EdgeIndexReader(EdgeReader(self.folder(collection), collection, wait_s=wait_s,
                                              private_copy=private_copy, version=version))
        return ServerIndexReader(connect(self.url, self.api_key), self.location,
                                 alias_name(self.prefix, collection), version)


class IndexReader:
    """A store to query and the state of the version it shows."""

    store: VectorStore
    state: IndexState | None
    version: str

    def refresh(self) -> bool:
        return False

    def close(self) -> None: ...

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EdgeIndexReader(IndexReader):
    def __init__(self, reader: EdgeReader) -> None:
        self.reader = reader

    @property
    def store(self) -> EdgeStore:  # type: ignore[override]
        return self.reader.store

    @property
    def state(self) -> IndexState | None:  # type: ignore[override]
        return self.reader.state

    @property
    def version(self) -> str:  # type: ignore[override]
        return self.reader.version

    def refresh(self) -> bool:
        return self.reader.refresh()

    def close(self) -> None:
        self.reader.close()


class ServerIndexReader(IndexReader):
    """Queries go through the alias, so a switch is seen by the next query; ``version``
    pins a physical collection instead (as the index check does)."""

    def __init__(self, client: Any, location: str, alias: str, version: str | None = None) -> None:
        self.client = client
        physical = version or aliased_collection(client, alias)
        if physical is None or not call_client("collection_exists", client.collection_exists, physical):
            client.close()
            raise IndexNotFound(f"no index {version or alias} at {location}")
        self.version = physical
        self.store = ServerStore(client, version or alias, location, name=alias)
        self.state = read_state(ServerStore(client, physical, location))

    def refresh(self) -> bool:
        physical = aliased_collection(self.client, self.store.name)
        if physical is None or physical == self.version or self.store.collection != self.store.name:
            return False
        self.version, self.state = physical, read_state(ServerStore(self.client, physical, self.store.location))
        return True

    def close(self) -> None:
        self.client.close()
