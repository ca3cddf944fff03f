"""The quality guard's probe set and its comparison with the fp32 torch reference.

When a graph is exported, the torch model's own vectors for these texts are stored beside
it (the reference). Whenever a backend is loaded its vectors for the same texts are
compared with that reference: dense by cosine, sparse by how many of the reference's top
terms it also ranks in its top terms. Thresholds per precision (:data:`TOLERANCES`):

- fp32 graphs are lossless: cosine ≥ 0.9999 and top-32 overlap ≥ 0.97 on every probe
  (measured: cosine 1.000000, overlap 1.0);
- int8 graphs: dense cosine ≥ 0.98 on every probe (measured on 300 real chunks: min 0.989,
  mean 0.994); sparse top-32 overlap ≥ 0.80 on every probe and ≥ 0.90 on average
  (measured: min 0.91, mean 0.98);
- fp16 (CUDA): cosine ≥ 0.999, overlap ≥ 0.90.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .spec import ProbeAgreement

PROBE_SET_VERSION = "1"
PROBES: tuple[str, ...] = (
    "How do I open a file for reading and writing at the same time?",
    "Return the number of items in a container.",
    "The quick brown fox jumps over the lazy dog.",
    "GPU memory is leased per stage under a hard cap of twelve gigabytes, with a soft limit of ten.",
    "Learned sparse retrieval expands passages with related vocabulary terms before indexing them.",
    "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "Zürich, São Paulo and Kraków are cities; naïve café résumé.",
    "Error 404: the requested resource was not found on this server (see RFC 7231, section 6.5.4).",
    "short",
    "A",
    "Photosynthesis converts light energy into chemical energy stored in glucose molecules.",
    "The central bank raised interest rates by 25 basis points to curb persistent inflation.",
    "Create a new thread of execution and start it; the target callable runs in the new thread.",
    "Returns a new deque object initialized left-to-right with data from an iterable.",
    "SELECT name, count(*) FROM orders GROUP BY name HAVING count(*) > 10 ORDER BY 2 DESC;",
    ("Chunking splits each document into windows of tokens with an overlap, so that no chunk exceeds "
     "the smallest model's maximum sequence length; every document seen is either embedded or skipped "
     "with a recorded reason, and identical chunks are encoded only once. ") * 3,
)
TOP_TERMS = 32
TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"dense_cosine_min": 0.9999, "sparse_top_overlap_min": 0.97, "sparse_top_overlap_mean": 0.99},
    "fp16": {"dense_cosine_min": 0.999, "sparse_top_overlap_min": 0.90, "sparse_top_overlap_mean": 0.95},
    "int8": {"dense_cosine_min": 0.98, "sparse_top_overlap_min": 0.80, "sparse_top_overlap_mean": 0.90},
}


def as_matrix(vectors: Any) -> np.ndarray:
    """An encoder's output (numpy, dense or sparse torch tensor) as a float32 matrix."""
    if isinstance(vectors, np.ndarray):
        return vectors.astype(np.float32, copy=False)
    if getattr(vectors, "is_sparse", False):
        vectors = vectors.to_dense()
    return vectors.detach().float().cpu().numpy()


def encode_probes(model: Any, kind: str, texts: tuple[str, ...] = PROBES) -> np.ndarray:
    """The probe vectors of a loaded encoder (torch or ONNX), one text per call."""
    if kind == "dense":
        rows = [model.encode([t], batch_size=1, normalize_embeddings=True, convert_to_numpy=True,
                             show_progress_bar=False) for t in texts]
    else:
        rows = [as_matrix(model.encode([t], batch_size=1, convert_to_tensor=True, convert_to_sparse_tensor=False,
                                       show_progress_bar=False)) for t in texts]
    return np.concatenate([as_matrix(r) for r in rows], axis=0)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return (a * b).sum(axis=1) / np.maximum(norms, 1e-12)


def top_overlap(got: np.ndarray, ref: np.ndarray, k: int = TOP_TERMS) -> np.ndarray:
    """Per row: the share of ``ref``'s top-k active terms found among ``got``'s top-k terms."""
    out = np.ones(len(ref), dtype=np.float64)
    for i, (g, r) in enumerate(zip(got, ref)):
        want = [t for t in np.argsort(-r, kind="stable")[:k] if r[t] > 0]
        if want:
            have = set(np.argsort(-g, kind="stable")[:k].tolist())
            out[i] = sum(t in have for t in want) / len(want)
    return out


def agreement(got: np.ndarray, ref: np.ndarray, kind: str, precision: str,
              overrides: dict[str, float] | None = None) -> ProbeAgreement:
    """``got`` against the torch reference ``ref``, held to the precision's tolerances."""
    tolerance = {**TOLERANCES[precision], **(overrides or {})}
    cos = cosines(got, ref)
    if kind == "dense":
        figures = {"dense_cosine_min": float(cos.min()), "dense_cosine_mean": float(cos.mean())}
        keys = ("dense_cosine_min",)
    else:
        overlap = top_overlap(got, ref)
        figures = {"sparse_top_overlap_min": float(overlap.min()), "sparse_top_overlap_mean": float(overlap.mean()),
                   "sparse_cosine_min": float(cos.min())}
        keys = ("sparse_top_overlap_min", "sparse_top_overlap_mean")
    used = {k: tolerance[k] for k in keys}
    return ProbeAgreement(probes=len(ref), top_terms=TOP_TERMS, tolerance=used,
                          passed=all(figures[k] >= v for k, v in used.items()), **figures)
