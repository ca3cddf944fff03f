"""The Dagster layer: assets, checks, resources, partitions, sensors and the
definitions object. It wires :mod:`embed_assets.core` together and holds no logic
of its own beyond that."""
