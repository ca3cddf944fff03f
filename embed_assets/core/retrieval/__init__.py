"""Retrieval over exports: the exact index, query encoding, fusion, metrics, evaluation and search."""
