"""Sparse vectors: coverage and the share that came from the metadata fallback."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.manifest.envelopes import SparseEnvelope, read_envelope

from ..assets import sparse_vectors
from ..metadata import counts_table
from ..resources import QualityGatesResource
from .common import check_options, problems_md


@dg.asset_check(**check_options(sparse_vectors, "Sparse coverage at least the threshold and fallback ratio at most "
                                                "the threshold. A problem is a warning by default — the metadata-"
                                                "derived vectors are published with fallback_used — and blocks the "
                                                "run in strict mode (gates.strict_sparse)."))
def sparse_coverage_and_fallback(sparse_vectors: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    envelope = read_envelope(sparse_vectors.schema, SparseEnvelope)
    stage = envelope.stage
    if not envelope.enabled or stage is None:
        return dg.AssetCheckResult(passed=True, metadata={"enabled": False,
                                                          "decided_by": envelope.decision.decided_by})
    fallback_ratio = stage.source_counts.get("metadata", 0) / max(stage.count, 1)
    problems = []
    if stage.coverage < gates.min_sparse_coverage:
        problems.append(f"coverage {stage.coverage:.3f} < {gates.min_sparse_coverage}")
    if fallback_ratio > gates.max_fallback_ratio:
        problems.append(f"fallback ratio {fallback_ratio:.3f} > {gates.max_fallback_ratio}")
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.ERROR if gates.strict_sparse else dg.AssetCheckSeverity.WARN,
        metadata={"enabled": True, "strict": gates.strict_sparse, "coverage": float(stage.coverage), "min_coverage": gates.min_sparse_coverage,
                  "fallback_ratio": fallback_ratio, "max_fallback_ratio": gates.max_fallback_ratio,
                  "fallback_reason": stage.fallback_reason or "",
                  "source_counts": counts_table(stage.source_counts, "source", "chunks"),
                  "problems": problems_md(problems)},
    )
