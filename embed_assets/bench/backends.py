"""The benchmark's encoder-backend measurements.

``export``: builds every ONNX graph into the run's own model cache, once, and times each
build (later measurements and pipeline runs load them). ``backends``: one process, one
thread, the same chunks for every contender, interleaved rounds (each round runs every
contender once; the best round counts), CPU time and wall time. Contenders: the raw
``SentenceTransformer.encode`` and stock ``SparseEncoder.encode`` (fp32, default batch
size) and our dense and sparse encoding paths on each backend. CPU time is the figure the
ratios use: on a shared machine it counts only this process's own work (at one thread it
is also the time the work would take on an idle core).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .workers import COLLECTION, model_cache

BENCH_BACKENDS = ("torch", "onnx", "onnx-int8")
ROUNDS = 3
SAMPLE = 300


def worker_export(workdir: Path) -> dict[str, Any]:
    """Build every graph from the packaged models; seconds and megabytes per artifact."""
    from embed_assets.core.encode.backends.loader import OnnxModels
    from embed_assets.core.encode.backends.spec import backend_spec
    from embed_assets.core.encode.models import resolve_model
    from embed_assets.core.settings import DEFAULT_DENSE_MODEL, DEFAULT_SPARSE_MODEL

    models = OnnxModels(model_cache(workdir), threads=1)
    out: dict[str, Any] = {}
    for kind, ref in (("dense", DEFAULT_DENSE_MODEL), ("sparse", DEFAULT_SPARSE_MODEL)):
        for backend in ("onnx", "onnx-int8"):
            started = time.perf_counter()
            artifact, _ = models.artifact(kind, resolve_model(ref), backend_spec(backend))  # type: ignore[arg-type]
            name = f"{kind}_{backend.replace('-', '_')}"
            out[f"{name}_build_s"] = artifact.build_s
            out[f"{name}_total_s"] = time.perf_counter() - started  # with the torch load and verification
            out[f"{name}_mb"] = artifact.graph.stat().st_size / 1e6
    return out


def _chunks(workdir: Path) -> tuple[list[Any], list[str], list[int]]:
    import pyarrow.parquet as pq

    from embed_assets.core.ingest.records import table_to_chunks

    table = pq.read_table(workdir / "data" / "storage" / "chunks" / f"{COLLECTION}.parquet")
    chunks = table_to_chunks(table)[:SAMPLE]
    return chunks, [c.text for c in chunks], [c.token_count for c in chunks]


def _dense_contenders(texts: list[str], lengths: list[int], cache: Path) -> dict[str, Callable[[], Any]]:
    from embed_assets.core.devices.batching import fixed_batcher_factory
    from embed_assets.core.encode.dense import encode_dense
    from embed_assets.core.encode.models import load_dense_model, resolve_model
    from embed_assets.core.settings import DEFAULT_DENSE_MODEL
    from embed_assets.resources import ModelManagerResource

    raw = load_dense_model(resolve_model(DEFAULT_DENSE_MODEL))
    out: dict[str, Callable[[], Any]] = {
        "raw": lambda: raw.encode(texts, normalize_embeddings=True, show_progress_bar=False)}
    for backend in BENCH_BACKENDS:
        manager = ModelManagerResource(encoder_backend=backend, model_cache=str(cache), encoder_threads=1)
        models = manager.load_dense()
        factory = fixed_batcher_factory(manager.dense_batch_size, token_budget=manager.dense_token_budget)
        out[backend] = (lambda m, f, b: lambda: encode_dense(m, texts, lengths, devices=["cpu"], batch_size=b,
                                                             make_batcher=f).ensemble)(
            models, factory, manager.dense_batch_size)
    return out


def _sparse_contenders(chunks: list[Any], texts: list[str], cache: Path) -> dict[str, Callable[[], Any]]:
    import numpy as np
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    from embed_assets.core.devices.batching import fixed_batcher_factory
    from embed_assets.core.encode.backends.probes import as_matrix
    from embed_assets.core.encode.lexical import LexicalWeighter
    from embed_assets.core.encode.models import resolve_model
    from embed_assets.core.encode.sparse import SparseVectorEncoder
    from embed_assets.core.settings import DEFAULT_SPARSE_MODEL
    from embed_assets.resources import ModelManagerResource

    location = resolve_model(DEFAULT_SPARSE_MODEL).location
    raw = SparseEncoder(modules=[Transformer(location, transformer_task="fill-mask"), SpladePooling("max")],
                        device="cpu")
    out: dict[str, Callable[[], Any]] = {"raw": lambda: as_matrix(raw.encode(
        texts, convert_to_tensor=True, convert_to_sparse_tensor=False, show_progress_bar=False))}

    def ours(encoder: SparseVectorEncoder, vocab: int) -> Callable[[], Any]:
        def run() -> Any:
            matrix = np.zeros((len(chunks), vocab), dtype=np.float32)
            for row, vec in enumerate(encoder.generate(chunks).vectors):
                matrix[row, vec.indices] = vec.values
            return matrix

        return run

    for backend in BENCH_BACKENDS:
        manager = ModelManagerResource(encoder_backend=backend, model_cache=str(cache), encoder_threads=1)
        model, identity = manager.load_sparse()
        encoder = SparseVectorEncoder(
            sparse_model=manager.sparse_model, model_for=lambda d, _m=model: _m,
            lexical=LexicalWeighter(model.tokenizer), batch_size=manager.sparse_batch_size, identity=identity,
            make_batcher=fixed_batcher_factory(manager.sparse_batch_size, token_budget=manager.sparse_token_budget))
        out[backend] = ours(encoder, int(model.tokenizer.vocab_size))
    return out


def _interleaved(contenders: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    outputs: dict[str, Any] = {}
    best = {k: {"cpu_s": float("inf"), "wall_s": float("inf")} for k in contenders}
    for _ in range(ROUNDS):
        for name, fn in contenders.items():
            cpu, wall = time.process_time(), time.perf_counter()
            outputs[name] = fn()
            best[name]["cpu_s"] = min(best[name]["cpu_s"], time.process_time() - cpu)
            best[name]["wall_s"] = min(best[name]["wall_s"], time.perf_counter() - wall)
    return outputs, best


def _quality(outputs: dict[str, Any], kind: str) -> dict[str, dict[str, float]]:
    import numpy as np

    from embed_assets.core.encode.backends.probes import cosines, top_overlap

    ref = np.asarray(outputs["raw"], dtype=np.float32)
    out = {}
    for name in BENCH_BACKENDS:
        got = np.asarray(outputs[name], dtype=np.float32)
        cos = cosines(got, ref)
        figures = {"cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
                   "max_abs_diff": float(np.abs(got - ref).max())}
        if kind == "sparse":
            overlap = top_overlap(got, ref)
            figures |= {"top32_overlap_min": float(overlap.min()), "top32_overlap_mean": float(overlap.mean())}
        out[name] = figures
    return out


def worker_backends(workdir: Path) -> dict[str, Any]:
    """Every backend against the raw calls at one thread, interleaved, on the same chunks."""
    import torch

    torch.set_num_threads(1)
    cache = model_cache(workdir)
    chunks, texts, lengths = _chunks(workdir)
    result: dict[str, Any] = {"chunks": len(texts), "rounds": ROUNDS, "threads": 1,
                              "load_before": os.getloadavg()[0]}
    for kind in ("dense", "sparse"):
        contenders = (_dense_contenders(texts, lengths, cache) if kind == "dense"
                      else _sparse_contenders(chunks, texts, cache))
        outputs, timings = _interleaved(contenders)
        result[kind] = {"timings": timings, "quality": _quality(outputs, kind)}
    result["load_after"] = os.getloadavg()[0]
    return result
