"""Encoding queries the way an indexed collection was encoded: the models its index
version records (dense ensemble, aggregation, SPLADE, the lexical tokenizer), loaded from
the same references on the encoder backends that produced its vectors, and checked against
the recorded weight fingerprints."""

from __future__ import annotations

import threading
from typing import Any

from ..encode.backends.registry import load_encoder
from ..encode.models import ModelUnavailable, load_tokenizer, resolve_model, weights_fingerprint
from ..retrieval.query import QueryEncoder
from ..settings import get_settings
from .state import EncoderModel, QueryEncoding

_TOKENIZERS: dict[str, Any] = {}
_LOCK = threading.Lock()


class EncoderMismatch(ModelUnavailable):
    """A model resolves to other weights than the collection was encoded with."""


def _quiet() -> None:
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover
        return
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _load(kind: str, model: EncoderModel, verify: bool) -> Any:
    resolved = resolve_model(model.name)
    if verify and model.weights_sha256 and weights_fingerprint(resolved.location) != model.weights_sha256:
        raise EncoderMismatch(f"{kind} model {model.name!r} here has other weights than the collection was "
                              "encoded with; queries would not match its vectors")
    _quiet()
    if kind in ("dense", "sparse"):  # one encoder per (model, backend) per process: the registry's
        return load_encoder(kind, resolved, model.backend or "torch",  # type: ignore[arg-type]
                            cache_root=get_settings().resolved_model_cache).model
    with _LOCK:
        if resolved.location not in _TOKENIZERS:
            _TOKENIZERS[resolved.location] = load_tokenizer(resolved)
        return _TOKENIZERS[resolved.location]


def query_encoder(encoding: QueryEncoding, verify: bool = True) -> QueryEncoder:
    """A QueryEncoder for ``encoding`` (models are loaded once per process)."""
    dense = [_load("dense", m, verify) for m in encoding.dense_models]
    splade = _load("sparse", encoding.sparse_model, verify) if encoding.sparse_model else None
    loaded = {m.name: d.tokenizer for m, d in zip(encoding.dense_models, dense)}
    if splade is not None and encoding.sparse_model:
        loaded[encoding.sparse_model.name] = splade.tokenizer
    wanted = encoding.lexical_tokenizer
    tokenizer = loaded.get(wanted) if wanted else dense[0].tokenizer
    if tokenizer is None:
        tokenizer = _load("tokenizer", EncoderModel(name=wanted or ""), verify=False)
    return QueryEncoder(dense, [m.weight for m in encoding.dense_models], encoding.aggregation, splade, tokenizer)
