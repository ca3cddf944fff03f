"""Encoders: model loading and identity, the dense ensemble, SPLADE pooling, the sparse
chain with its metadata fallback, lexical vectors, the embedding cache and vector records."""
