"""One dynamic partition per collection."""

import dagster as dg

COLLECTIONS = "collections"
collections_partitions = dg.DynamicPartitionsDefinition(name=COLLECTIONS)
