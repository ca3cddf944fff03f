"""Resources that are plain settings: where data lives, the regression-gate thresholds,
the feature switches taken from the environment, and where the vector index is."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field, SecretStr

from embed_assets.core.index.edge import DEFAULT_INDEXING_THRESHOLD_KB, EdgeTuning
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.settings import cache_root, collections_dir, storage_root
from embed_assets.core.stages.guards import GuardSettings


class PathsResource(dg.ConfigurableResource):
    data_root: str = Field(description="Folder with collections/ (and, by default, exports/ and storage/).")
    export_root: str | None = Field(default=None, description="Where exports land; default <data_root>/exports.")

    @property
    def root(self) -> Path:
        return Path(self.data_root)

    @property
    def collections(self) -> Path:
        return collections_dir(self.root)

    @property
    def exports(self) -> Path:
        return Path(self.export_root) if self.export_root else self.root / "exports"

    @property
    def storage(self) -> Path:
        return storage_root(self.root)

    def collection_folder(self, collection: str) -> Path:
        return self.collections / collection

    def cache_folder(self, collection: str) -> Path:
        """The embedding cache of a collection (vectors keyed by model weights and content hash)."""
        return cache_root(self.root) / collection


class FeaturesResource(dg.ConfigurableResource):
    """Switches from the environment (``EMBED_ASSETS_SPARSE``, ``EMBED_ASSETS_LEXICAL``,
    ``EMBED_ASSETS_SHARDS``); they rank below the CLI flag (a run tag) and run config."""

    sparse: bool | None = Field(default=None, description="Sparse stage on/off from the environment (unset: none).")
    lexical: bool | None = Field(default=None, description="Lexical vectors from the environment (unset: off).")
    shards: int = Field(default=1, ge=1, description="Shards per collection from the environment (ranked below the "
                                                     "embed_assets/shards run tag and run config).")


class QualityGatesResource(dg.ConfigurableResource):
    """Thresholds of the blocking asset checks."""

    min_sparse_coverage: float = Field(default=0.95, ge=0, le=1,
                                       description="Least share of chunks with a non-empty sparse vector.")
    max_fallback_ratio: float = Field(default=0.5, ge=0, le=1,
                                      description="Most share of chunks whose sparse vector came from a fallback.")
    strict_sparse: bool = Field(default=False, description="A sparse coverage/fallback problem fails the run "
                                                           "(ERROR) instead of a warning on a published export.")
    norm_tolerance: float = Field(default=1e-3, gt=0, description="Allowed |‖v‖ - 1| of dense vectors.")
    max_document_drop: float = Field(default=0.5, ge=0, le=1,
                                     description="Largest share of the previous export's documents a run may lose; "
                                                 "more fails the run and keeps the last good export (1: no limit).")
    allow_empty: bool = Field(default=False, description="Let a run with no embeddable documents replace a good "
                                                         "export with an empty one (a deliberate purge).")
    quality_mode: str = Field(default="hybrid", description="Retriever the quality gate scores: dense, splade, "
                                                            "lexical, a fusion name, or hybrid (the default fusion).")
    quality_floor: float = Field(default=0.0, ge=0, le=1, description="Least nDCG@10 on the labelled set.")
    quality_tolerance: float = Field(default=0.05, ge=0, le=1,
                                     description="Largest nDCG@10 drop against the previous materialization.")
    quality_blocking: bool = Field(default=True, description="A failed quality gate stops the export.")
    backend_min_cosine: float | None = Field(default=None, ge=0, le=1, description=(
        "Least dense probe cosine of an encoder backend against fp32 torch (None: its precision's tolerance, "
        "0.9999 for fp32, 0.98 for int8)."))
    backend_min_top_overlap: float | None = Field(default=None, ge=0, le=1, description=(
        "Least sparse probe top-32 overlap of an encoder backend against fp32 torch, on every probe (None: its "
        "precision's tolerance, 0.97 for fp32, 0.80 for int8)."))

    def backend_tolerance(self) -> dict[str, float]:
        """The overrides of the backend checks' thresholds."""
        out = {"dense_cosine_min": self.backend_min_cosine, "sparse_top_overlap_min": self.backend_min_top_overlap}
        return {k: v for k, v in out.items() if v is not None}

    def guard_settings(self) -> GuardSettings:
        return GuardSettings(max_document_drop=self.max_document_drop, allow_empty=self.allow_empty)

class VectorIndexResource(dg.ConfigurableResource):
    """Where collections are indexed: the embedded engine under ``index_root``, or a Qdrant
    server at ``url``. The API key is configured by environment-variable reference (see
    ``definitions.build_resources``), so the UI shows the variable's name, never its value."""

    index_root: str = Field(description="Edge index folders (and the writer locks of server indexes).")
    url: str | None = Field(default=None, description="http(s)://… for a server; file:///… for local mode.")
    api_key: str | None = Field(default=None, description="The server's API key (an environment reference).")
    prefix: str = Field(default="", description="Prepended to collection names on a server.")
    store_text: bool = Field(default=False, description="Store chunk text in the payload.")
    lock_timeout_s: float = Field(default=60.0, ge=0, description="Wait for another run's writer lock this long.")
    check_wait_s: float = Field(default=30.0, ge=0, description="The check waits this long for a held version, "
                                                                "then reads a private copy.")
    indexing_threshold_kb: int = Field(default=DEFAULT_INDEXING_THRESHOLD_KB, gt=0, description=(
        "Edge: segments above this many KB of dense vectors get an HNSW graph (approximate search)."))
    full_scan_threshold_kb: int | None = Field(default=None, gt=0, description="Edge: smaller segments are "
                                                                               "searched by brute force.")

    def target(self) -> IndexTarget:
        return IndexTarget(root=Path(self.index_root), url=self.url,
                           api_key=SecretStr(self.api_key) if self.api_key else None, prefix=self.prefix,
                           lock_timeout_s=self.lock_timeout_s,
                           tuning=EdgeTuning(indexing_threshold_kb=self.indexing_threshold_kb,
                                             full_scan_threshold_kb=self.full_scan_threshold_kb))
