"""Publishing to a Qdrant server blue/green: two collections per index and an alias.

Readers query the alias ``<prefix><collection>``. A run brings the collection the alias
does not point to (``…--blue`` or ``…--green``) up to the export's content, records the
version's state in that collection's metadata, and moves the alias in one atomic
``update_collection_aliases`` call. A failed run leaves the alias where it was; the next run
computes its delta from the standby's actual content, so a half-written standby heals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .locks import FileLock
from .publisher import IndexPublisher, Prepared
from .server import ServerStore, call_client, client_models
from .state import IndexState
from .store import IndexSchema

SLOTS = ("blue", "green")
STATE_KEY = "embed_assets_state"


def alias_name(prefix: str, collection: str) -> str:
    return f"{prefix}{collection}"


def aliased_collection(client: Any, alias: str) -> str | None:
    """The collection ``alias`` points to, if the alias exists."""
    aliases = call_client("get_aliases", client.get_aliases).aliases
    return next((a.collection_name for a in aliases if a.alias_name == alias), None)


def read_state(store: ServerStore) -> IndexState | None:
    raw = store.metadata().get(STATE_KEY)
    return IndexState.model_validate(json.loads(raw) if isinstance(raw, str) else raw) if raw else None


class ServerPublisher(IndexPublisher):
    backend = "qdrant"

    def __init__(self, client: Any, location: str, collection: str, prefix: str, lock_root: Path,
                 lock_timeout_s: float = 60.0, owns_client: bool = True) -> None:
        self.client = client
        self.location = location
        self.alias = alias_name(prefix, collection)
        self.collection_name = self.alias
        self._owns_client = owns_client
        # One writer per collection from this host (a server has no lock of its own to take).
        self._writer = FileLock(lock_root / ".writer.lock").acquire(lock_timeout_s)

    def _store(self, physical: str) -> ServerStore:
        return ServerStore(self.client, physical, self.location, name=self.alias)

    def _served_store(self) -> ServerStore | None:
        physical = aliased_collection(self.client, self.alias)
        return self._store(physical) if physical else None

    def served(self) -> IndexState | None:
        store = self._served_store()
        return read_state(store) if store else None

    def served_name(self) -> str | None:
        return aliased_collection(self.client, self.alias)

    def served_fingerprints(self) -> dict[str, str]:
        store = self._served_store()
        return store.fingerprints() if store else {}

    def next_version(self) -> int:
        served = self.served()
        return served.index_version + 1 if served else 1

    def prepare(self, schema: IndexSchema, next_version: int) -> Prepared:
        served = aliased_collection(self.client, self.alias)
        standby = next(f"{self.alias}--{slot}" for slot in SLOTS if f"{self.alias}--{slot}" != served)
        store = self._store(standby)
        done = store.ensure_schema(schema)
        return Prepared(store, f"standby {standby}" if done == "unchanged" else f"new {standby}")

    def publish(self, prepared: Prepared, state: IndexState, fingerprints: dict[str, str]) -> str:
        store = prepared.store
        assert isinstance(store, ServerStore)
        store.set_metadata({STATE_KEY: state.model_dump_json()})
        m = client_models()
        operations: list[Any] = []
        if aliased_collection(self.client, self.alias):
            operations.append(m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=self.alias)))
        operations.append(m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name=store.collection,
                                                                             alias_name=self.alias)))
        call_client("update_collection_aliases", self.client.update_collection_aliases,
                 change_aliases_operations=operations)
        return store.collection

    def abandon(self, prepared: Prepared) -> None:
        """The standby is not served; it stays as it is for the next run to correct."""

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
        self._writer.release()
