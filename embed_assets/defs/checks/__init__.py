"""Asset checks: the regression gates. Blocking ones stop downstream assets in the run."""

from .documents import documents_not_lost
from .embeddings import embedding_sanity
from .fusion import fused_schema_matches_run
from .manifest import manifest_additive_compatibility, manifest_schema_version
from .quality import retrieval_quality
from .sparse import sparse_coverage_and_fallback

ALL_CHECKS = [documents_not_lost, embedding_sanity, sparse_coverage_and_fallback, fused_schema_matches_run, retrieval_quality,
              manifest_schema_version, manifest_additive_compatibility]

__all__ = ["ALL_CHECKS", "documents_not_lost", "embedding_sanity", "fused_schema_matches_run", "manifest_additive_compatibility",
           "manifest_schema_version", "retrieval_quality", "sparse_coverage_and_fallback"]
