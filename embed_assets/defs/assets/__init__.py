"""The six assets, one partition per collection:
chunks → dense_embeddings → sparse_vectors → fused_vectors → processing_summary → vector_index."""

from .chunks import chunks
from .dense_embeddings import dense_embeddings
from .fused_vectors import fused_vectors
from .processing_summary import processing_summary
from .sparse_vectors import sparse_vectors
from .vector_index import vector_index

ALL_ASSETS = [chunks, dense_embeddings, sparse_vectors, fused_vectors, processing_summary, vector_index]

__all__ = ["ALL_ASSETS", "chunks", "dense_embeddings", "fused_vectors", "processing_summary", "sparse_vectors",
           "vector_index"]
