"""The benchmark's measurements, each run in a fresh subprocess (so peak RSS is that
measurement's own): our pipeline, our dense and sparse stages, the raw library calls on
the same chunks, and a torch matmul for the machine's peak FLOP/s."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

COLLECTION = "bench"
BIG = "bench-scaled"
SAMPLE_ROWS = 200


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _chunk_texts(workdir: Path) -> tuple[list[str], list[int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(workdir / "data" / "storage" / "chunks" / f"{COLLECTION}.parquet",
                          columns=["text", "token_count"])
    return table.column("text").to_pylist(), table.column("token_count").to_pylist()


def worker_pipeline(workdir: Path, collection: str) -> dict[str, Any]:
    from embed_assets.core.storage.exports import MANIFEST_NAME
    from embed_assets.runs.instance import open_instance
    from embed_assets.runs.runner import DagsterRunner

    os.environ["DAGSTER_HOME"] = str(workdir / "home")
    runner = DagsterRunner.for_data_root(open_instance(workdir / "home"), data_root=workdir / "data",
                                         log_level="ERROR")
    outcome = runner.materialize(collection)
    if not outcome.success:
        raise SystemExit(f"pipeline run on {collection} failed")
    wall = outcome.wall_s
    manifest = json.loads((workdir / "data" / "exports" / collection / MANIFEST_NAME).read_text())
    st = manifest["stages"]
    return {"wall_s": wall, "rss_mb": _rss_mb(), "chunks": st["chunks"]["count"],
            "stage_s": {k: st[k]["latency_ms"] / 1000 for k in ("chunks", "dense", "sparse", "fusion", "export")},
            "encode_s": (st["dense"]["encode_ms"] + st["sparse"]["encode_ms"]) / 1000,
            "encoded": st["dense"]["encoded"], "sparse_encoded": st["sparse"]["encoded"]}


def worker_raw_dense(workdir: Path) -> dict[str, Any]:
    import numpy as np

    from embed_assets.core.encode.models import load_dense_model, resolve_model
    from embed_assets.core.settings import DEFAULT_DENSE_MODEL

    texts, _ = _chunk_texts(workdir)
    model = load_dense_model(resolve_model(DEFAULT_DENSE_MODEL))
    base = _rss_mb()
    started = time.perf_counter()
    vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    np.save(workdir / "raw_dense.npy", vectors)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base}


def _manager(backend: str) -> Any:
    """Our model manager on ``backend`` (empty: the default backend)."""
    from embed_assets.resources import ModelManagerResource

    return ModelManagerResource(encoder_backend=backend) if backend else ModelManagerResource()


def worker_ours_dense(workdir: Path, backend: str = "") -> dict[str, Any]:
    import numpy as np

    from embed_assets.core.devices.batching import fixed_batcher_factory
    from embed_assets.core.encode.backends.registry import torch_model
    from embed_assets.core.encode.dense import encode_dense
    from embed_assets.core.encode.models import resolve_model

    texts, lengths = _chunk_texts(workdir)
    manager = _manager(backend)
    models = manager.load_dense()
    base = _rss_mb()
    started = time.perf_counter()
    encoding = encode_dense(models, texts, lengths, devices=["cpu"], batch_size=manager.dense_batch_size,
                            make_batcher=fixed_batcher_factory(manager.dense_batch_size,
                                                               token_budget=manager.dense_token_budget))
    seconds = time.perf_counter() - started
    np.save(workdir / f"ours_dense{'_' + backend if backend else ''}.npy", encoding.ensemble)
    rss = _rss_mb()
    model = torch_model("dense", resolve_model(manager.dense_models[0].ref))  # the FLOP count reads its config
    return {"seconds": seconds, "rss_mb": rss, "base_rss_mb": base, "flops": _dense_flops(model, lengths),
            "backend": models[0].identity.backend.name if models[0].identity.backend else "torch"}


def _dense_flops(model: Any, lengths: list[int]) -> float:
    """Forward FLOPs of a BERT-style encoder over the chunks: 2·(non-embedding params)·tokens
    for the dense layers plus 4·layers·n²·hidden for attention scores and mixing."""
    transformer = model[0].auto_model
    config = transformer.config
    params = sum(p.numel() for name, p in transformer.named_parameters() if "embeddings" not in name)
    total = 0.0
    for n in lengths:
        tokens = n + 2
        total += 2.0 * params * tokens + 4.0 * config.num_hidden_layers * tokens * tokens * config.hidden_size
    return total


def _sparse_rows(vectors: Any, n: int) -> Any:
    """The first ``n`` rows of a sparse COO (rows, vocab) tensor as a dense array."""
    import numpy as np

    coo = vectors.coalesce()
    rows, cols = coo.indices().numpy()
    values = coo.values().numpy()
    keep = rows < n
    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    out[rows[keep], cols[keep]] = values[keep]
    return out


def worker_raw_sparse(workdir: Path) -> dict[str, Any]:
    import numpy as np
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    from embed_assets.core.encode.models import resolve_model
    from embed_assets.core.settings import DEFAULT_SPARSE_MODEL

    texts, _ = _chunk_texts(workdir)
    location = resolve_model(DEFAULT_SPARSE_MODEL).location
    model = SparseEncoder(modules=[Transformer(location, transformer_task="fill-mask"), SpladePooling("max")],
                          device="cpu")
    base = _rss_mb()
    started = time.perf_counter()
    vectors = model.encode(texts, convert_to_tensor=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    sample = _sparse_rows(vectors, min(SAMPLE_ROWS, len(texts)))
    np.save(workdir / "raw_sparse_sample.npy", sample)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base}


def worker_ours_sparse(workdir: Path, backend: str = "") -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq

    from embed_assets.core.devices.batching import fixed_batcher_factory
    from embed_assets.core.encode.lexical import LexicalWeighter
    from embed_assets.core.encode.sparse import SparseVectorEncoder
    from embed_assets.core.ingest.records import table_to_chunks

    chunks = table_to_chunks(pq.read_table(workdir / "data" / "storage" / "chunks" / f"{COLLECTION}.parquet"))
    manager = _manager(backend)
    model, identity = manager.load_sparse()
    generator = SparseVectorEncoder(
        sparse_model=manager.sparse_model, model_for=lambda d: model, lexical=LexicalWeighter(model.tokenizer),
        batch_size=manager.sparse_batch_size, identity=identity,
        make_batcher=fixed_batcher_factory(manager.sparse_batch_size, token_budget=manager.sparse_token_budget))
    base = _rss_mb()
    started = time.perf_counter()
    result = generator.generate(chunks)
    seconds = time.perf_counter() - started
    n = min(SAMPLE_ROWS, len(chunks))
    sample = np.zeros((n, model.tokenizer.vocab_size), dtype=np.float32)
    for row, vec in enumerate(result.vectors[:n]):
        sample[row, vec.indices] = vec.values
    np.save(workdir / f"ours_sparse_sample{'_' + backend if backend else ''}.npy", sample)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base, "fallback": result.fallback_used,
            "backend": identity.backend.name if identity.backend else "torch"}


def worker_matmul(workdir: Path) -> dict[str, Any]:
    import torch

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2.0 * n**3 / (time.perf_counter() - started))
    return {"flops_per_s": best, "threads": torch.get_num_threads()}


WORKERS = {"pipeline": worker_pipeline, "raw_dense": worker_raw_dense, "ours_dense": worker_ours_dense,
           "raw_sparse": worker_raw_sparse, "ours_sparse": worker_ours_sparse, "matmul": worker_matmul}


def model_cache(workdir: Path) -> Path:
    """The run's own model cache: graphs are built once per benchmark, timed, then loaded."""
    return workdir / "model-cache"


def spawn(name: str, workdir: Path, *extra: str) -> dict[str, Any]:
    """Run one measurement in a fresh process; its JSON line back."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "EMBED_ASSETS_MODEL_CACHE": str(model_cache(workdir))}
    done = subprocess.run([sys.executable, "-m", "embed_assets.bench", "--worker", name, "--workdir",
                           str(workdir), *extra], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
