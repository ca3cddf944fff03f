"""The pure core of embed_assets: reading, chunking, encoding, batching, fusion and
manifests. Nothing in this package imports Dagster; the Dagster layer in
:mod:`embed_assets.defs` wires these pieces together."""
