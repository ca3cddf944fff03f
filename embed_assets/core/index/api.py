"""The Python entry point for applications: open a collection's index and search it.

```python
from embed_assets import open_index

with open_index("retrieval-handbook") as index:
    for hit in index.search("how are chunks scored", k=5):
        print(hit.rank, hit.score, hit.doc_id, hit.chunk_id)
```

Queries are encoded with the models the index version records (loaded on the first
search), so the application needs neither the command line nor the exports.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ..retrieval.evaluation import hybrid_members
from ..settings import get_settings
from .search import FUSION_NAMES, MODES, IndexHit, IndexSearchResult, search_index
from .state import IndexState
from .store import StoreDescription
from .target import IndexReader, IndexTarget
from .versions import IndexNotFound


class Index:
    """One collection's index, open for search. Not thread-safe: one per thread."""

    def __init__(self, reader: IndexReader, collection: str, verify_models: bool = True,
                 auto_refresh: bool = True) -> None:
        self._reader = reader
        self.collection = collection
        self.verify_models = verify_models
        self.auto_refresh = auto_refresh
        self._encoder: Any = None

    @property
    def state(self) -> IndexState:
        if self._reader.state is None:
            raise IndexNotFound(f"the index of {self.collection} records no state; rebuild it")
        return self._reader.state

    @property
    def version(self) -> str:
        return self._reader.version

    def refresh(self) -> bool:
        """Switch to a newly published version, if any (cheap when there is none)."""
        before = self._reader.state
        switched = self._reader.refresh()
        if switched and (before is None or self._reader.state is None
                         or before.encoding != self._reader.state.encoding):
            self._encoder = None
        return switched

    def members(self, mode: str) -> tuple[str, ...]:
        available = list(self.state.index_schema.vectors)
        if mode == "hybrid":
            return hybrid_members(available)[1]
        if mode not in MODES or mode not in available:
            raise ValueError(f"mode {mode!r} is not available in this index (available: {', '.join(available)}, "
                             "hybrid)")
        return (mode,)

    def encoder(self) -> Any:
        if self._encoder is None:
            from .encoder import query_encoder

            self._encoder = query_encoder(self.state.encoding, verify=self.verify_models)
        return self._encoder

    def search(self, query: str, k: int = 10, mode: str = "hybrid", fusion: str = "hybrid",
               weights: Mapping[str, float] | None = None, exact: bool = False,
               with_text: bool = False) -> list[IndexHit]:
        """The best ``k`` documents (each with its best chunk). ``fusion``: ``hybrid`` (the
        product's default weights), ``convex`` (equal-footing min–max, the previous default), or
        the engine's ``rrf`` (k = 60), ``weighted_rrf`` or ``dbsf``."""
        return self.query(query, k, mode, fusion, weights, exact, with_text).hits

    def query(self, query: str, k: int = 10, mode: str = "hybrid", fusion: str = "hybrid",
              weights: Mapping[str, float] | None = None, exact: bool = False,
              with_text: bool = False) -> IndexSearchResult:
        """:meth:`search` with what the hits were scored by (members, fusion, explanation)."""
        if fusion not in FUSION_NAMES:
            raise ValueError(f"fusion must be one of {', '.join(FUSION_NAMES)}")
        if self.auto_refresh:
            self.refresh()
        return search_index(self._reader.store, self.encoder(), query, self.members(mode), top_k=k, fusion=fusion,
                            weights=weights, exact=exact, with_text=with_text)

    def count(self) -> int:
        return self._reader.store.count()

    def describe(self) -> StoreDescription:
        return self._reader.store.describe()

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_index(collection: str, *, data_root: str | Path | None = None, index_root: str | Path | None = None,
               url: str | None = None, api_key: str | None = None, wait_s: float = 2.0,
               private_copy: bool = True, verify_models: bool = True) -> Index:
    """Open ``collection``'s index: the embedded one under ``index_root`` (default: the
    settings', or ``<data_root>/index``), or a Qdrant server's at ``url``. An embedded
    version held by another process is waited for up to ``wait_s``, then read from a
    private copy (or refused with ``private_copy=False``)."""
    settings = get_settings()
    target = IndexTarget.from_settings(settings, Path(data_root).resolve() if data_root else None,
                                       root=Path(index_root).resolve() if index_root else None, url=url,
                                       api_key=SecretStr(api_key) if api_key else None)
    return Index(target.reader(collection, wait_s=wait_s, private_copy=private_copy), collection, verify_models)
