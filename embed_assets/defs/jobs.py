"""The job that materializes a collection end to end, with its checks."""

from __future__ import annotations

import dagster as dg

from .assets import ALL_ASSETS
from .partitions import collections_partitions

JOB_NAME = "embed_collections"

embed_collections_job = dg.define_asset_job(
    JOB_NAME,
    selection=dg.AssetSelection.assets(*ALL_ASSETS),
    partitions_def=collections_partitions,
    description="Materialize every asset of a collection, with its checks.",
)
