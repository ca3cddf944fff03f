"""Document collections to hybrid retrieval vectors, as a Dagster asset graph, published
into a vector index. ``open_index`` is imported on first use, so ``import embed_assets``
stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .core.index.api import Index, open_index

__all__ = ["Index", "open_index"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from .core.index import api

        return getattr(api, name)
    raise AttributeError(f"module 'embed_assets' has no attribute {name!r}")
