"""``make bench``: our stages against the raw library calls, measured in one run.

    python -m embed_assets.bench [--chunks 2000] [--scale 10] [--output docs/benchmarks.md]

Every measurement runs in a fresh subprocess on the same chunks and the same machine:
``SentenceTransformer.encode`` and stock ``SparseEncoder.encode`` (default batch size,
model load excluded) against our dense and sparse stages on every encoder backend (the
graphs are exported and quantized once, first, and timed); every backend against the raw
calls at one thread in interleaved rounds (the backend ratios); full pipeline runs for the
first, unchanged and 1%-changed materializations and at ``--scale``× the size; a torch
matmul for the machine's peak FLOP/s; and the same backfill on a real local cluster with 1
worker vs 2 (:mod:`.scaling`, which also runs alone). It prints a table, writes ``--output``, and
ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from embed_assets.core.encode.backends import DEFAULT_BACKEND

from .backends import BENCH_BACKENDS, worker_backends, worker_export
from .chart import chart_path, write_chart
from .corpus import change_documents, write_collection
from .report import HEADER, figures, report
from .workers import BIG, COLLECTION, WORKERS, spawn

ALL_WORKERS = {**WORKERS, "export": worker_export, "backends": worker_backends}
MEASUREMENTS = [("raw dense", "raw_dense", ""), *[(f"our dense ({b})", "ours_dense", b) for b in BENCH_BACKENDS],
                ("raw sparse", "raw_sparse", ""), *[(f"our sparse ({b})", "ours_sparse", b) for b in BENCH_BACKENDS],
                ("matmul peak", "matmul", ""),
                ("every backend against the raw calls, one thread, interleaved", "backends", "")]


def _fresh(workdir: Path) -> None:
    """A first run must start cold: no cache, no stored outputs."""
    for stale in ("data", "home"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    (workdir / "home").mkdir(parents=True, exist_ok=True)
    (workdir / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")


def measure(chunks: int, scale: int, workdir: Path) -> tuple[dict[str, Any], int, int]:
    """Every measurement; returns them with the document count and how many documents changed."""
    _fresh(workdir)
    collections = workdir / "data" / "collections"
    print(f"building a benchmark collection of about {chunks} chunks ...", file=sys.stderr)
    docs = write_collection(collections / COLLECTION, chunks)
    print("  exporting and quantizing the models (once) ...", file=sys.stderr)
    results: dict[str, Any] = {"export": spawn("export", workdir)}
    results["first"] = spawn("pipeline", workdir, COLLECTION)
    print(f"  first run: {results['first']['chunks']} chunks from {docs} documents in "
          f"{results['first']['wall_s']:.1f}s", file=sys.stderr)
    for label, name, backend in MEASUREMENTS:
        print(f"  {label} ...", file=sys.stderr)
        results[f"{name}_{backend}" if backend else name] = spawn(name, workdir, *([backend] if backend else []))
    for stage in ("dense", "sparse"):  # the existing figures are the default backend's
        results[f"ours_{stage}"] = results[f"ours_{stage}_{DEFAULT_BACKEND}"]
    print("  unchanged re-run ...", file=sys.stderr)
    results["unchanged"] = spawn("pipeline", workdir, COLLECTION)
    changed_docs = change_documents(collections / COLLECTION, 0.01)
    print(f"  re-run with {changed_docs} documents changed ...", file=sys.stderr)
    results["changed"] = spawn("pipeline", workdir, COLLECTION)
    print(f"  {scale}x collection ...", file=sys.stderr)
    write_collection(collections / BIG, chunks * scale, seed=7)
    results["scaled"] = spawn("pipeline", workdir, BIG)
    print("  the same backfill on a local cluster with 1 worker, then 2 ...", file=sys.stderr)
    from . import scaling  # not at the top: the measurement workers import this module, lean

    results["scaling"] = scaling.measure()
    return results, docs, changed_docs


def run(chunks: int, scale: int, output: Path | None, workdir: Path | None = None) -> dict[str, Any]:
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="embed-bench-"))
    try:
        results, docs, changed_docs = measure(chunks, scale, workdir)
        (workdir / "results.json").write_text(json.dumps(results, indent=1), "utf-8")
        figs = figures(results, workdir)
        text = report(results, figs, docs, changed_docs, scale)
        print(text)
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            write_chart(chart_path(output), results, BENCH_BACKENDS)
            text += f"\n\n![throughput, ours against the raw calls]({chart_path(output).name})"
            output.write_text(HEADER + text + "\n\n```json\n" + json.dumps(figs, indent=2) + "\n```\n", "utf-8")
        print(json.dumps({k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in figs.items()}))
        return figs
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=2000, help="approximate chunks in the benchmark collection")
    parser.add_argument("--scale", type=int, default=10, help="size multiple for the peak-RSS comparison")
    parser.add_argument("--output", type=Path, default=None, help="markdown report to write")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the work folder here")
    parser.add_argument("--worker", choices=sorted(ALL_WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(ALL_WORKERS[args.worker](args.workdir, *args.extra)))
        return 0
    run(args.chunks, args.scale, args.output, args.workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
