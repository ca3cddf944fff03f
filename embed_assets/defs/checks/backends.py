"""The encoder backends' quality guard: each model's vectors for a fixed probe set against
the fp32 torch reference, within the tolerance of its precision (see
``embed_assets.core.encode.backends.probes``). Blocking: a backend that drifted (a broken
export, a runtime whose kernels changed) stops the run before anything is published."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.encode.backends import ProbeAgreement
from embed_assets.core.manifest.envelopes import DenseEnvelope, SparseEnvelope, read_envelope
from embed_assets.core.manifest.models import ModelEntry

from ..assets import dense_embeddings, sparse_vectors
from ..resources import QualityGatesResource
from .common import check_options, problems_md


def _shortfalls(probe: ProbeAgreement, overrides: dict[str, float]) -> list[str]:
    """Each figure below its threshold: the recorded tolerance, or the gates' override."""
    limits = {**probe.tolerance, **{k: v for k, v in overrides.items() if k in probe.tolerance}}
    return [f"{k} {getattr(probe, k):.4f} < {v}" for k, v in limits.items() if getattr(probe, k) < v]


def _verdict(entries: list[ModelEntry], gates: QualityGatesResource) -> dg.AssetCheckResult:
    problems, rows = [], []
    for entry in entries:
        backend = entry.backend.name if entry.backend else "torch"
        probe = entry.probe
        short = _shortfalls(probe, gates.backend_tolerance()) if probe else []
        figures = probe.model_dump(exclude={"tolerance", "passed", "top_terms"}, exclude_none=True) if probe else {}
        rows.append(f"| {entry.key} | {backend} | {'reference' if probe is None else 'FAIL' if short else 'pass'}"
                    f" | {', '.join(f'{k} {v:.4f}' for k, v in figures.items() if k != 'probes')} |")
        if short:
            problems.append(f"{entry.key} on {backend}: {', '.join(short)}")
    table = "| model | backend | probe | figures |\n| --- | --- | --- | --- |\n" + "\n".join(rows)
    return dg.AssetCheckResult(passed=not problems, metadata={
        "backends": ", ".join(sorted({e.backend.name if e.backend else "torch" for e in entries})) or "none",
        "agreement": dg.MetadataValue.md(table if rows else "no model ran"), "problems": problems_md(problems)})


@dg.asset_check(**check_options(dense_embeddings, "Each dense model's backend reproduces the fp32 torch model on "
                                                  "the probe set within its precision's tolerance (cosine)."))
def dense_backend_agreement(dense_embeddings: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    return _verdict(read_envelope(dense_embeddings.schema, DenseEnvelope).stage.models, gates)


@dg.asset_check(**check_options(sparse_vectors, "The SPLADE model's backend reproduces the fp32 torch model on the "
                                                "probe set within its precision's tolerance (top-term overlap)."))
def sparse_backend_agreement(sparse_vectors: pa.Table, gates: QualityGatesResource) -> dg.AssetCheckResult:
    stage = read_envelope(sparse_vectors.schema, SparseEnvelope).stage
    return _verdict([stage.model] if stage is not None and stage.model is not None else [], gates)
