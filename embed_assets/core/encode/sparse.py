"""SPLADE vectors for chunks along a device chain (a leased GPU first, then the CPU), with
metadata-derived lexical vectors for whatever the chain cannot encode.

:class:`SparseVectorEncoder` (the specification's ``SparseVectorGenerator``) returns one
vector per chunk, in input order, and says for every chunk which source produced it;
:func:`encode_collection` runs it over a whole collection in bounded shards with the
embedding cache.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..devices.batching import BatcherFactory, fixed_batcher_factory
from ..devices.events import BatchEvent, EventLog
from ..ingest.records import ChunkRecord
from ..progress import Progress
from ..telemetry import child_span
from .lexical import CollectionStats, LexicalWeighter
from .longest_first import BatchStats, encode_longest_first
from .models import ModelIdentity
from .vectors import SPARSE_SOURCES, SparseSource, SparseVector, rows_to_sparse


class SparseInferenceResult(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectors: list[SparseVector]
    sources: list[SparseSource]
    sparse_model: str
    model_identity: ModelIdentity | None = None
    fallback_used: bool
    fallback_reason: str | None = Field(default=None, description="Why a fallback ran; never contains chunk text.")
    latency_ms: float
    devices: list[str]
    batch_sizes: list[int] = Field(default_factory=list)
    oom_retries: int = 0
    soft_limit_exceedances: int = 0
    peak_memory_bytes: int = 0
    events: list[BatchEvent] = Field(default_factory=list)

    unique: int = 0
    encoded: int = 0
    encode_ms: float = Field(default=0.0, description="Time inside model batches (the embedding work itself).")

    @property
    def source_counts(self) -> dict[str, int]:
        counts = Counter(self.sources)
        return {s: counts.get(s, 0) for s in SPARSE_SOURCES}

    @property
    def stats(self) -> BatchStats:
        return BatchStats(batch_sizes=self.batch_sizes, oom_retries=self.oom_retries,
                          soft_limit_exceedances=self.soft_limit_exceedances,
                          peak_memory_bytes=self.peak_memory_bytes, encode_ms=self.encode_ms)


class _ModelPass(BaseModel):
    """What the model chain produced: vectors (None where it gave up) and why it gave up."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectors: list[SparseVector | None]
    sources: list[SparseSource | None]
    devices: set[str] = Field(default_factory=set)
    stats: BatchStats = Field(default_factory=BatchStats)
    done: int = 0
    reason: str | None = None


class SparseVectorEncoder:
    """Encode chunks with a SPLADE model along a device chain.

    ``model_for(device)`` returns the SPLADE ``SparseEncoder`` placed on a device;
    ``devices`` is the chain to try (a leased GPU first when there is one, then
    ``"cpu"``). Chunks the chain cannot encode get metadata-derived vectors from ``lexical``.
    """

    def __init__(
        self,
        *,
        sparse_model: str,
        model_for: Callable[[str], Any] | None,
        lexical: LexicalWeighter,
        devices: Sequence[str] = ("cpu",),
        batch_size: int = 32,
        identity: ModelIdentity | None = None,
        unavailable_reason: str | None = None,
        make_batcher: BatcherFactory | None = None,
        before_batch: Callable[[str, int, int], None] | None = None,
        on_event: Callable[[BatchEvent], None] | None = None,
    ) -> None:
        self.sparse_model = sparse_model
        self.model_for = model_for
        self.lexical = lexical
        self.devices = list(devices)
        self.batch_size = batch_size
        self.identity = identity
        self.unavailable_reason = unavailable_reason
        self.make_batcher = make_batcher or fixed_batcher_factory(batch_size)
        self.before_batch = before_batch
        self.on_event = on_event

    def generate(self, chunks: Sequence[ChunkRecord], collection_stats: Callable[[], CollectionStats] | None = None,
                 progress: Progress | None = None) -> SparseInferenceResult:
        """Vectors for ``chunks``. The metadata fallback, when needed, takes its statistics from
        ``collection_stats()`` (default: statistics of ``chunks`` themselves)."""
        started = time.perf_counter()
        log = EventLog(self.on_event)
        model_pass = self._model_pass(chunks, log, progress)
        missing = [i for i, v in enumerate(model_pass.vectors) if v is None]
        if missing:
            self._fill_from_metadata(chunks, missing, model_pass, collection_stats, log)
        return SparseInferenceResult(
            vectors=[v for v in model_pass.vectors if v is not None],
            sources=[s for s in model_pass.sources if s is not None],
            sparse_model=self.sparse_model, model_identity=self.identity, fallback_used=bool(missing),
            fallback_reason=model_pass.reason if missing else None,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            devices=sorted(model_pass.devices | ({"cpu"} if missing else set())),
            events=log.events, **model_pass.stats.model_dump())

    def _model_pass(self, chunks: Sequence[ChunkRecord], log: EventLog, progress: Progress | None) -> _ModelPass:
        n = len(chunks)
        out = _ModelPass(vectors=[None] * n, sources=[None] * n, reason=self.unavailable_reason)
        if self.model_for is None or not n:
            if n and out.reason is None:
                out.reason = "no sparse model configured"
            return out
        model_for = self.model_for

        def encode(device: str, batch: list[str]) -> list[SparseVector]:
            return rows_to_sparse(model_for(device).encode(batch, batch_size=len(batch), convert_to_tensor=True,
                                                           convert_to_sparse_tensor=True, show_progress_bar=False))

        try:
            run = encode_longest_first([c.text for c in chunks], [c.token_count for c in chunks], stage="sparse",
                                       devices=self.devices, make_batcher=self.make_batcher, log=log, encode=encode,
                                       before_batch=self.before_batch, progress=progress)
        except Exception as exc:  # noqa: BLE001 - a model failure falls back, it does not stop the stage
            out.reason = f"sparse model failed: {type(exc).__name__}"
            return out
        for i, device, vec in run.items():
            out.vectors[i] = vec  # type: ignore[assignment]
            out.sources[i] = "model-cpu" if device == "cpu" else "model-gpu"
        out.devices, out.stats, out.done = set(run.devices), run.stats, run.done
        if run.done < n and out.reason is None:
            out.reason = "every device ran out of memory at the minimum batch size"
        return out

    def _fill_from_metadata(self, chunks: Sequence[ChunkRecord], missing: list[int], model_pass: _ModelPass,
                            collection_stats: Callable[[], CollectionStats] | None, log: EventLog) -> None:
        with child_span("fallback", stage="sparse", source="metadata", chunks=len(missing)):
            stats = collection_stats() if collection_stats is not None else self.lexical.fit(chunks)
            fallback = self.lexical.vectors([chunks[i] for i in missing], stats)
        for i, vec in zip(missing, fallback):
            model_pass.vectors[i] = vec
            model_pass.sources[i] = "metadata"
        log(BatchEvent(stage="sparse", device="cpu", kind="metadata_fallback", old_batch_size=0, new_batch_size=0,
                       position=model_pass.done, detail=f"{len(missing)} chunks: {model_pass.reason}"))


# The name the specification gives the sparse stage's encoder.
SparseVectorGenerator = SparseVectorEncoder
