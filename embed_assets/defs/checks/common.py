"""What every check shares: partitioned, blocking by default, problems as markdown."""

import warnings
from typing import Any

import dagster as dg

from ..partitions import collections_partitions

# Partitioned checks are what a per-collection gate needs; Dagster marks them preview.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def check_options(asset: Any, description: str, blocking: bool = True) -> dict[str, Any]:
    return {"asset": asset, "blocking": blocking, "partitions_def": collections_partitions, "description": description}


def problems_md(problems: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(problems) or "none")
