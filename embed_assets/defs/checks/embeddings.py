"""Dense vectors: dimension, finite values, unit norm."""

import dagster as dg
import numpy as np
import pyarrow as pa

from embed_assets.core.manifest.envelopes import DenseEnvelope, read_envelope
from embed_assets.core.storage.arrow import vectors_from_column

from ..assets import dense_embeddings
from ..metadata import counts_table
from ..resources import QualityGatesResource
from .common import check_options, problems_md


def _column_problem(table: pa.Table, column: str, dim: int, tolerance: float) -> tuple[str | None, float]:
    """(problem or None, worst norm error) of one vector column."""
    if column not in table.column_names:
        return f"{column}: missing", 0.0
    found = table.schema.field(column).type.list_size
    if found != dim:
        return f"{column}: dimension {found}, expected {dim}", 0.0
    matrix = vectors_from_column(table.column(column))
    if not np.isfinite(matrix).all():
        return f"{column}: {int((~np.isfinite(matrix)).any(axis=1).sum())} vectors with NaN/inf", 0.0
    if not len(matrix):
        return None, 0.0
    err = float(np.abs(np.linalg.norm(matrix, axis=1) - 1.0).max())
    return (f"{column}: norm off by {err:.2e} (tolerance {tolerance:.0e})" if err > tolerance else None), err


@dg.asset_check(**check_options(dense_embeddings, "Every dense vector (ensemble and per model) has the recorded "
                                                  "dimension, is finite and has unit norm."))
def embedding_sanity(dense_embeddings: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    stage = read_envelope(dense_embeddings.schema, DenseEnvelope).stage
    expected = {"dense": stage.dim, **{f"dense__{m.key}": m.dim for m in stage.models}}
    problems: list[str] = []
    worst_norm_error = 0.0
    for column, dim in expected.items():
        problem, err = _column_problem(dense_embeddings, column, dim, gates.norm_tolerance)
        worst_norm_error = max(worst_norm_error, err)
        if problem:
            problems.append(problem)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"rows": dense_embeddings.num_rows, "expected_dims": counts_table(expected, "column", "dim"),
                  "max_norm_error": worst_norm_error, "problems": problems_md(problems)},
    )
