"""Asset checks: the regression gates. Blocking ones stop downstream assets in the run."""

from .backends import dense_backend_agreement, sparse_backend_agreement
from .documents import documents_not_lost
from .embeddings import embedding_sanity
from .fusion import fused_schema_matches_run
from .index import vector_index_matches_export
from .manifest import manifest_additive_compatibility, manifest_schema_version
from .quality import retrieval_quality
from .sparse import sparse_coverage_and_fallback

ALL_CHECKS = [documents_not_lost, embedding_sanity, dense_backend_agreement, sparse_coverage_and_fallback,
              sparse_backend_agreement, fused_schema_matches_run, retrieval_quality, manifest_schema_version,
              manifest_additive_compatibility, vector_index_matches_export]

__all__ = ["ALL_CHECKS", "dense_backend_agreement", "documents_not_lost", "embedding_sanity",
           "fused_schema_matches_run", "manifest_additive_compatibility", "manifest_schema_version",
           "retrieval_quality", "sparse_backend_agreement", "sparse_coverage_and_fallback",
           "vector_index_matches_export"]
