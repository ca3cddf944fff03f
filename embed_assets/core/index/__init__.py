"""The vector index: a collection's published export in a vector database.

``store`` is the small interface (and its value objects) every backend implements;
``edge`` is the embedded engine (a local folder per version), ``server`` a Qdrant server
or cluster through its client. ``versions`` (Edge) and ``aliases`` (server) publish a new
index version atomically; ``sync`` computes and applies the delta from an export;
``search`` and ``evaluation`` query it; ``api`` is the Python entry point for applications.
"""
