"""Fused records: the schema of what ran."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.manifest.envelopes import FusionEnvelope, read_envelope
from embed_assets.core.manifest.models import SCHEMA_VERSION_DENSE, SCHEMA_VERSION_SPARSE
from embed_assets.core.stages.fusion import SPARSE_COLUMNS

from ..assets import fused_vectors
from .common import check_options, problems_md


@dg.asset_check(**check_options(fused_vectors, "Fused records have the schema of what ran: hybrid columns exactly "
                                               "when sparse ran."))
def fused_schema_matches_run(fused_vectors: pa.Table) -> dg.AssetCheckResult:
    enabled = read_envelope(fused_vectors.schema, FusionEnvelope).sparse_enabled
    sparse_cols = set(SPARSE_COLUMNS)
    present = sparse_cols & set(fused_vectors.column_names)
    problems = []
    if enabled and present != sparse_cols:
        problems.append(f"sparse ran but columns {sorted(sparse_cols - present)} are missing")
    if not enabled and present:
        problems.append(f"sparse was off but columns {sorted(present)} are present")
    modes = set(fused_vectors.column("fusion_mode").to_pylist())
    if modes - {"hybrid" if enabled else "dense_only"}:
        problems.append(f"fusion_mode values {sorted(modes)} do not match the run")
    return dg.AssetCheckResult(passed=not problems, metadata={
        "sparse_enabled": enabled, "expected_manifest_version": SCHEMA_VERSION_SPARSE if enabled else SCHEMA_VERSION_DENSE,
        "columns": ", ".join(fused_vectors.column_names), "problems": problems_md(problems)})
