"""The interface every encoder backend implements.

The pipeline talks to an encoder through the part of the sentence-transformers API it
uses, so a torch ``SentenceTransformer``/``SparseEncoder`` and an ONNX Runtime encoder
are interchangeable behind ``model_for(device)``, the embedding cache, the query encoder
and the benchmark. These protocols name that part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class BackendUnavailable(RuntimeError):
    """A backend cannot serve a model (runtime missing, graph not exportable, export does
    not reproduce the torch model); the message says which and why, never any text."""


class EncoderModel(Protocol):
    tokenizer: Any
    """The Hugging Face tokenizer (chunking and lexical vectors use it)."""
    max_seq_length: int

    @property
    def device(self) -> Any: ...

    def to(self, device: str) -> Any:
        """Place the encoder on ``device`` (``"cpu"``, ``"cuda:N"``); returns itself."""

    def get_embedding_dimension(self) -> int: ...


class DenseEncoderModel(EncoderModel, Protocol):
    def encode(self, sentences: Sequence[str], *, batch_size: int = 32, normalize_embeddings: bool = False,
               convert_to_numpy: bool = True, **options: Any) -> Any:
        """(len(sentences), dim) float32 vectors, in input order."""


class SparseEncoderModel(EncoderModel, Protocol):
    def encode(self, sentences: Sequence[str], *, batch_size: int = 32, convert_to_tensor: bool = True,
               convert_to_sparse_tensor: bool = True, **options: Any) -> Any:
        """(len(sentences), vocabulary) SPLADE vectors, in input order."""

    def encode_query(self, sentences: Sequence[str], **options: Any) -> Any:
        """Queries as the model encodes them (the same as documents for symmetric SPLADE)."""
