"""Run configuration of the assets, as shown in the Dagster launchpad."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

# The CLI's --enable-sparse/--disable-sparse travels as this run tag, so the resolver can
# tell it apart from run config and the environment.
SPARSE_CLI_TAG = "embed_assets/sparse_cli"
DEFAULT_PROBE_QUERY = "how are documents turned into hybrid retrieval vectors"


class ChunksConfig(dg.Config):
    chunk_tokens: int = Field(default=200, ge=8, description="Target tokens per chunk.")
    overlap_tokens: int = Field(default=32, ge=0, description="Tokens shared by consecutive chunks.")
    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Larger files are skipped.")


class SparseConfig(dg.Config):
    enable_sparse: bool | None = Field(default=None, description="Run config switch (CLI flag > this > env > default).")
    enable_lexical: bool | None = Field(default=None, description="Also export lexical (BM25-style) vectors; "
                                                                  "unset: $EMBED_ASSETS_LEXICAL, else off.")
    probe_query: str = Field(default=DEFAULT_PROBE_QUERY,
                             description="Encoded for the manifest's query_sparse_vector; only its hash is stored.")


class FusionConfig(dg.Config):
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="Dense weight of the vector-level fusion.")
