"""``make bench``: our stages against the raw library calls, measured in one run.

    python -m embed_assets.benchmark [--chunks 2000] [--scale 10] [--output docs/benchmarks.md]

Every measurement runs in a fresh subprocess (so peak RSS is that measurement's own)
on the same chunks and the same machine: ``SentenceTransformer.encode`` and stock
``SparseEncoder.encode`` (default batch size, model load excluded) against our dense and
sparse stages; full pipeline runs for the first, unchanged and 1%-changed
materializations and at ``--scale``× the size; and a torch matmul for the machine's
peak FLOP/s. It prints a table, writes ``--output``, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COLLECTION = "bench"
BIG = "bench-scaled"


# ----------------------------------------------------------------------------- corpus
def _vocabulary() -> list[str]:
    from embed_assets.core.models import load_tokenizer, resolve_model

    tok = load_tokenizer(resolve_model("all-MiniLM-L6-v2"))
    return sorted(w for w in tok.get_vocab() if w.isalpha() and w.isascii() and len(w) > 2)


def write_collection(folder: Path, target_chunks: int, seed: int = 0) -> int:
    """Documents with a skewed (log-normal) length distribution and Zipf-like word use:
    most are a chunk or two, a few run to many chunks. Returns the document count."""
    rng = random.Random(seed)
    words = _vocabulary()
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    folder.mkdir(parents=True, exist_ok=True)
    est_chunks = 0.0
    n_docs = 0
    while est_chunks < target_chunks:
        n_words = int(min(2500, max(6, rng.lognormvariate(4.3, 1.0))))
        sentences = []
        remaining = n_words
        while remaining > 0:
            k = min(remaining, rng.randint(6, 24))
            sentence = rng.choices(words, weights=weights, k=k)
            sentences.append(" ".join(sentence).capitalize() + ".")
            remaining -= k
        paragraphs = [" ".join(sentences[i:i + 5]) for i in range(0, len(sentences), 5)]
        (folder / f"doc-{n_docs:05d}.txt").write_text("\n\n".join(paragraphs), "utf-8")
        est_chunks += max(1.0, n_words * 1.25 / 168)
        n_docs += 1
    return n_docs


def change_documents(folder: Path, fraction: float, seed: int = 1) -> int:
    docs = sorted(folder.glob("*.txt"))
    rng = random.Random(seed)
    chosen = rng.sample(docs, max(1, round(len(docs) * fraction)))
    for path in chosen:
        path.write_text(path.read_text("utf-8") + "\n\nAn added closing sentence changes this document.", "utf-8")
    return len(chosen)


# ----------------------------------------------------------------------------- workers
def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _chunk_texts(workdir: Path) -> tuple[list[str], list[int]]:
    import pyarrow.parquet as pq

    table = pq.read_table(workdir / "data" / "storage" / "chunks" / f"{COLLECTION}.parquet",
                          columns=["text", "token_count"])
    return table.column("text").to_pylist(), table.column("token_count").to_pylist()


def worker_pipeline(workdir: Path, collection: str) -> dict[str, Any]:
    import dagster as dg

    from embed_assets.defs.definitions import JOB_NAME, build_definitions

    os.environ["DAGSTER_HOME"] = str(workdir / "home")
    job = build_definitions(data_root=workdir / "data").resolve_job_def(JOB_NAME)
    instance = dg.DagsterInstance.get()
    if not instance.has_dynamic_partition("collections", collection):
        instance.add_dynamic_partitions("collections", [collection])
    started = time.perf_counter()
    result = job.execute_in_process(partition_key=collection, instance=instance, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}})
    wall = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"pipeline run on {collection} failed")
    manifest = json.loads((workdir / "data" / "exports" / collection / "processing_summary.json").read_text())
    st = manifest["stages"]
    return {"wall_s": wall, "rss_mb": _rss_mb(), "chunks": st["chunks"]["count"],
            "stage_s": {k: st[k]["latency_ms"] / 1000 for k in ("chunks", "dense", "sparse", "fusion", "export")},
            "encode_s": (st["dense"]["encode_ms"] + st["sparse"]["encode_ms"]) / 1000,
            "encoded": st["dense"]["encoded"], "sparse_encoded": st["sparse"]["encoded"]}


def worker_raw_dense(workdir: Path) -> dict[str, Any]:
    import numpy as np

    from embed_assets.core.models import load_dense_model, resolve_model

    texts, _ = _chunk_texts(workdir)
    model = load_dense_model(resolve_model("all-MiniLM-L6-v2"))
    base = _rss_mb()
    started = time.perf_counter()
    vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    np.save(workdir / "raw_dense.npy", vectors)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base}


def worker_ours_dense(workdir: Path) -> dict[str, Any]:
    import numpy as np

    from embed_assets.core.batching import fixed_batcher_factory
    from embed_assets.core.dense import encode_dense
    from resources import ModelManagerResource

    texts, lengths = _chunk_texts(workdir)
    manager = ModelManagerResource()
    models = manager.load_dense()
    base = _rss_mb()
    started = time.perf_counter()
    encoding = encode_dense(models, texts, lengths, devices=["cpu"], batch_size=manager.dense_batch_size,
                            make_batcher=fixed_batcher_factory(manager.dense_batch_size,
                                                               token_budget=manager.dense_token_budget))
    seconds = time.perf_counter() - started
    np.save(workdir / "ours_dense.npy", encoding.ensemble)
    model = models[0].model_for("cpu")
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base, "flops": _dense_flops(model, lengths)}


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

    from embed_assets.core.models import resolve_model

    texts, _ = _chunk_texts(workdir)
    location = resolve_model("splade-tiny").location
    model = SparseEncoder(modules=[Transformer(location, transformer_task="fill-mask"), SpladePooling("max")],
                          device="cpu")
    base = _rss_mb()
    started = time.perf_counter()
    vectors = model.encode(texts, convert_to_tensor=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    sample = _sparse_rows(vectors, min(200, len(texts)))
    np.save(workdir / "raw_sparse_sample.npy", sample)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base}


def worker_ours_sparse(workdir: Path) -> dict[str, Any]:
    import numpy as np
    import pyarrow.parquet as pq

    from embed_assets.core.batching import fixed_batcher_factory
    from embed_assets.core.lexical import LexicalWeighter
    from embed_assets.core.records import table_to_chunks
    from embed_assets.core.sparse import SparseVectorGenerator
    from resources import ModelManagerResource

    chunks = table_to_chunks(pq.read_table(workdir / "data" / "storage" / "chunks" / f"{COLLECTION}.parquet"))
    manager = ModelManagerResource()
    model, identity = manager.load_sparse()
    generator = SparseVectorGenerator(
        sparse_model=manager.sparse_model, model_for=lambda d: model, lexical=LexicalWeighter(model.tokenizer),
        batch_size=manager.sparse_batch_size, identity=identity,
        make_batcher=fixed_batcher_factory(manager.sparse_batch_size, token_budget=manager.sparse_token_budget))
    base = _rss_mb()
    started = time.perf_counter()
    result = generator.generate(chunks)
    seconds = time.perf_counter() - started
    n = min(200, len(chunks))
    sample = np.zeros((n, 30522), dtype=np.float32)
    for row, vec in enumerate(result.vectors[:n]):
        sample[row, vec.indices] = vec.values
    np.save(workdir / "ours_sparse_sample.npy", sample)
    return {"seconds": seconds, "rss_mb": _rss_mb(), "base_rss_mb": base, "fallback": result.fallback_used}


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


def _spawn(name: str, workdir: Path, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-m", "embed_assets.benchmark", "--worker", name, "--workdir",
                           str(workdir), *extra], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} CPU cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def run(chunks: int, scale: int, output: Path | None, workdir: Path | None = None) -> dict[str, Any]:
    import numpy as np

    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="embed-bench-"))
    try:
        for stale in ("data", "home"):  # a first run must start cold: no cache, no stored outputs
            shutil.rmtree(workdir / stale, ignore_errors=True)
        (workdir / "home").mkdir(parents=True, exist_ok=True)
        (workdir / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        collections = workdir / "data" / "collections"
        print(f"building a benchmark collection of about {chunks} chunks ...", file=sys.stderr)
        docs = write_collection(collections / COLLECTION, chunks)
        first = _spawn("pipeline", workdir, COLLECTION)
        print(f"  first run: {first['chunks']} chunks from {docs} documents in {first['wall_s']:.1f}s", file=sys.stderr)
        results: dict[str, Any] = {"first": first}
        for label, name in [("raw dense", "raw_dense"), ("our dense", "ours_dense"), ("raw sparse", "raw_sparse"),
                            ("our sparse", "ours_sparse"), ("matmul peak", "matmul")]:
            print(f"  {label} ...", file=sys.stderr)
            results[name] = _spawn(name, workdir)
        print("  unchanged re-run ...", file=sys.stderr)
        results["unchanged"] = _spawn("pipeline", workdir, COLLECTION)
        changed_docs = change_documents(collections / COLLECTION, 0.01)
        print(f"  re-run with {changed_docs} documents changed ...", file=sys.stderr)
        results["changed"] = _spawn("pipeline", workdir, COLLECTION)
        print(f"  {scale}x collection ...", file=sys.stderr)
        write_collection(collections / BIG, chunks * scale, seed=7)
        results["scaled"] = _spawn("pipeline", workdir, BIG)

        n = first["chunks"]
        raw_d, ours_d = results["raw_dense"], results["ours_dense"]
        raw_s, ours_s = results["raw_sparse"], results["ours_sparse"]
        dense_diff = float(np.abs(np.load(workdir / "raw_dense.npy") - np.load(workdir / "ours_dense.npy")).max())
        sparse_diff = float(np.abs(np.load(workdir / "raw_sparse_sample.npy")
                                   - np.load(workdir / "ours_sparse_sample.npy")).max())
        achieved = ours_d["flops"] / ours_d["seconds"]
        peak = results["matmul"]["flops_per_s"]
        first_encode = first["encode_s"]
        figures = {
            "chunks": n,
            "dense_ratio": (n / ours_d["seconds"]) / (n / raw_d["seconds"]),
            "sparse_ratio": (n / ours_s["seconds"]) / (n / raw_s["seconds"]),
            "sparse_rss_ratio": ours_s["rss_mb"] / raw_s["rss_mb"],
            "unchanged_rerun_fraction": results["unchanged"]["encode_s"] / first_encode,
            "changed_1pct_fraction": results["changed"]["encode_s"] / first_encode,
            "rss_10x_ratio": results["scaled"]["rss_mb"] / first["rss_mb"],
            "overhead_fraction": 1.0 - sum(first["stage_s"][k] for k in ("chunks", "dense", "sparse", "fusion"))
            / first["wall_s"],
            "dense_flops_utilization": achieved / peak,
            "dense_max_abs_diff": dense_diff,
            "sparse_max_abs_diff": sparse_diff,
        }
        rows = [
            ("dense", n / ours_d["seconds"], n / raw_d["seconds"], ours_d["rss_mb"], raw_d["rss_mb"]),
            ("sparse", n / ours_s["seconds"], n / raw_s["seconds"], ours_s["rss_mb"], raw_s["rss_mb"]),
        ]
        table = ["| stage | ours chunks/s | raw chunks/s | ratio | ours peak RSS MB | raw peak RSS MB | RSS ratio |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        table += [f"| {s} | {o:.1f} | {r:.1f} | {o / r:.2f}× | {om:.0f} | {rm:.0f} | {om / rm:.2f} |"
                  for s, o, r, om, rm in rows]
        wall_unchanged = results["unchanged"]["stage_s"]["dense"] + results["unchanged"]["stage_s"]["sparse"]
        wall_first = first["stage_s"]["dense"] + first["stage_s"]["sparse"]
        lines = [
            f"Machine: {_machine()}; torch threads {results['matmul']['threads']}.",
            f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Collection: {n} chunks from {docs} "
            f"documents (log-normal lengths); {scale}× collection: {results['scaled']['chunks']} chunks.",
            "",
            *table,
            "",
            f"- Dense model compute: {achieved / 1e9:.1f} GFLOP/s achieved vs {peak / 1e9:.1f} GFLOP/s torch matmul "
            f"peak on this machine: {figures['dense_flops_utilization']:.0%} utilization.",
            f"- Same vectors: dense max |Δ| {dense_diff:.2e}; sparse max |Δ| {sparse_diff:.2e} (first 200 chunks).",
            f"- Re-run, nothing changed: embedding work {figures['unchanged_rerun_fraction']:.1%} of the first run "
            f"({results['unchanged']['encoded']} chunks encoded; dense+sparse stage wall time incl. model load "
            f"{wall_unchanged:.1f}s vs {wall_first:.1f}s).",
            f"- Re-run, {changed_docs} documents (1%) changed: embedding work {figures['changed_1pct_fraction']:.1%} "
            f"({results['changed']['encoded']} chunks encoded).",
            f"- Peak RSS of a full run: {first['rss_mb']:.0f} MB at 1×, {results['scaled']['rss_mb']:.0f} MB at "
            f"{scale}×: ratio {figures['rss_10x_ratio']:.2f}.",
            f"- Orchestration overhead (run start, IO, checks, manifest, export): "
            f"{figures['overhead_fraction']:.1%} of {first['wall_s']:.1f}s.",
        ]
        report = "\n".join(lines)
        print(report)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text("# Benchmarks\n\nWritten by `make bench` (`python -m embed_assets.benchmark`); "
                              "do not edit by hand. Baselines are the raw library calls on the same chunks, "
                              "measured in the same run, each in its own process; model load excluded.\n\n"
                              + report + "\n\n```json\n" + json.dumps(figures, indent=2) + "\n```\n", "utf-8")
        print(json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in figures.items()}))
        return figures
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000, help="approximate chunks in the benchmark collection")
    parser.add_argument("--scale", type=int, default=10, help="size multiple for the peak-RSS comparison")
    parser.add_argument("--output", type=Path, default=None, help="markdown report to write")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the work folder here")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.workdir, *args.extra)))
        return 0
    run(args.chunks, args.scale, args.output, args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
