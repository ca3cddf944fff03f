"""Run configuration of the assets, as shown in the Dagster launchpad."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

# The CLI's --enable-sparse/--disable-sparse travels as this run tag, so the resolver can
# tell it apart from run config and the environment.
SPARSE_CLI_TAG = "embed_assets/sparse_cli"
# Shards per collection for a run: set by --shards, or as a tag of a backfill or a launch in the UI.
SHARDS_TAG = "embed_assets/shards"
DEFAULT_PROBE_QUERY = "how are documents turned into hybrid retrieval vectors"


class ChunksConfig(dg.Config):
    chunk_tokens: int = Field(default=200, ge=8, description="Target tokens per chunk.")
    overlap_tokens: int = Field(default=32, ge=0, description="Tokens shared by consecutive chunks.")
    max_file_bytes: int = Field(default=50 * 1024 * 1024, gt=0, description="Larger files are skipped.")


SHARDS_DESCRIPTION = ("Split the collection's distinct chunks into this many shards, each its own step (parallel on "
                      "different workers), merged before fusion. The run tag embed_assets/shards ranks above this; "
                      "unset: $EMBED_ASSETS_SHARDS, else 1.")


class ShardsConfig(dg.Config):
    shards: int | None = Field(default=None, ge=1, description=SHARDS_DESCRIPTION)


class DenseConfig(ShardsConfig):
    """``ops.dense_embeddings.config``."""


class SparseConfig(ShardsConfig):
    """``ops.sparse_vectors.config``: mapped onto the sparse graph's plan and merge steps."""

    enable_sparse: bool | None = Field(default=None, description="Run config switch (CLI flag > this > env > default).")
    enable_lexical: bool | None = Field(default=None, description="Also export lexical (BM25-style) vectors; "
                                                                  "unset: $EMBED_ASSETS_LEXICAL, else off.")
    probe_query: str = Field(default=DEFAULT_PROBE_QUERY,
                             description="Encoded for the manifest's query_sparse_vector; only its hash is stored.")


class SparsePlanConfig(ShardsConfig):
    enable_sparse: bool | None = None


class SparseMergeConfig(dg.Config):
    enable_lexical: bool | None = None
    probe_query: str = DEFAULT_PROBE_QUERY


def _dense_config(values: dict) -> dict:
    return {"dense_plan": {"config": {"shards": DenseConfig(**values).shards}}}


def _sparse_config(values: dict) -> dict:
    c = SparseConfig(**values)
    return {"sparse_plan": {"config": {"shards": c.shards, "enable_sparse": c.enable_sparse}},
            "sparse_merge": {"config": {"enable_lexical": c.enable_lexical, "probe_query": c.probe_query}}}


# The sharded assets are graphs; these keep their run config where it was (ops.<asset>.config).
DENSE_CONFIG = dg.ConfigMapping(config_fn=_dense_config, config_schema=DenseConfig.to_config_schema())
SPARSE_CONFIG = dg.ConfigMapping(config_fn=_sparse_config, config_schema=SparseConfig.to_config_schema())


class FusionConfig(dg.Config):
    alpha: float = Field(default=0.5, ge=0.0, le=1.0, description="Dense weight of the vector-level fusion.")
