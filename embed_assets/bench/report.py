"""The benchmark's figures, its markdown report and its machine line."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from embed_assets.core.encode.backends import DEFAULT_BACKEND


def machine() -> str:
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


def figures(results: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Ratios against the baselines measured in the same run."""
    first = results["first"]
    n = first["chunks"]
    raw_d, ours_d = results["raw_dense"], results["ours_dense"]
    raw_s, ours_s = results["raw_sparse"], results["ours_sparse"]
    dense_diff = float(np.abs(np.load(workdir / "raw_dense.npy")
                              - np.load(workdir / f"ours_dense_{DEFAULT_BACKEND}.npy")).max())
    sparse_diff = float(np.abs(np.load(workdir / "raw_sparse_sample.npy")
                               - np.load(workdir / f"ours_sparse_sample_{DEFAULT_BACKEND}.npy")).max())
    return {
        "chunks": n,
        "dense_ratio": raw_d["seconds"] / ours_d["seconds"],
        "sparse_ratio": raw_s["seconds"] / ours_s["seconds"],
        "sparse_rss_ratio": ours_s["rss_mb"] / raw_s["rss_mb"],
        "unchanged_rerun_fraction": results["unchanged"]["encode_s"] / first["encode_s"],
        "changed_1pct_fraction": results["changed"]["encode_s"] / first["encode_s"],
        "rss_10x_ratio": results["scaled"]["rss_mb"] / first["rss_mb"],
        "overhead_fraction": 1.0 - sum(first["stage_s"][k] for k in ("chunks", "dense", "sparse", "fusion"))
        / first["wall_s"],
        "dense_flops_utilization": _fp32_utilization(results),
        "dense_max_abs_diff": dense_diff,
        "sparse_max_abs_diff": sparse_diff,
        "workers_2_vs_1_speedup": results["scaling"]["workers_2_vs_1_speedup"],
        **backend_figures(results),
    }


def _fp32_dense(results: dict[str, Any]) -> dict[str, Any]:
    """The dense run whose arithmetic is fp32 like the matmul peak (int8 work would read as > 100 %)."""
    return results.get("ours_dense_torch", results["ours_dense"])


def _fp32_utilization(results: dict[str, Any]) -> float:
    dense = _fp32_dense(results)
    return (dense["flops"] / dense["seconds"]) / results["matmul"]["flops_per_s"]


def _ratio(timings: dict[str, dict[str, float]], name: str, clock: str = "cpu_s") -> float:
    return timings["raw"][clock] / timings[name][clock]


def backend_figures(results: dict[str, Any]) -> dict[str, Any]:
    """The backend comparison's figures: CPU-time ratios at one thread against the raw calls."""
    dense, sparse = results["backends"]["dense"], results["backends"]["sparse"]
    return {
        "dense_onnx_ratio": _ratio(dense["timings"], "onnx"),
        "dense_int8_ratio": _ratio(dense["timings"], "onnx-int8"),
        "sparse_onnx_ratio": _ratio(sparse["timings"], "onnx"),
        "sparse_int8_ratio": _ratio(sparse["timings"], "onnx-int8"),
        "dense_int8_cosine_min": dense["quality"]["onnx-int8"]["cosine_min"],
        "dense_onnx_cosine_min": dense["quality"]["onnx"]["cosine_min"],
        "sparse_int8_top32_overlap_mean": sparse["quality"]["onnx-int8"]["top32_overlap_mean"],
        "sparse_int8_cosine_min": sparse["quality"]["onnx-int8"]["cosine_min"],
        "export_s": sum(v for k, v in results["export"].items() if k.endswith("_build_s")),
    }


def _backend_table(results: dict[str, Any]) -> list[str]:
    comparison = results["backends"]
    rows = ["| stage | backend | chunks/s (CPU time) | × raw (CPU) | × raw (wall) | cosine min / mean vs raw | "
            "top-32 overlap min / mean |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for stage in ("dense", "sparse"):
        timings, quality = comparison[stage]["timings"], comparison[stage]["quality"]
        rows.append(f"| {stage} | raw library call | {comparison['chunks'] / timings['raw']['cpu_s']:.1f} | 1.00× | "
                    "1.00× | — | — |")
        for name, q in quality.items():
            overlap = (f"{q['top32_overlap_min']:.3f} / {q['top32_overlap_mean']:.3f}"
                       if "top32_overlap_min" in q else "—")
            rows.append(f"| {stage} | ours, {name} | {comparison['chunks'] / timings[name]['cpu_s']:.1f} | "
                        f"{_ratio(timings, name):.2f}× | {_ratio(timings, name, 'wall_s'):.2f}× | "
                        f"{q['cosine_min']:.5f} / {q['cosine_mean']:.5f} | {overlap} |")
    return rows


def _export_line(export: dict[str, Any]) -> str:
    parts = [f"{kind} {name}: {export[f'{kind}_{key}_build_s']:.1f}s, {export[f'{kind}_{key}_mb']:.1f} MB"
             for kind in ("dense", "sparse") for name, key in (("fp32", "onnx"), ("int8", "onnx_int8"))]
    return ("- Graph builds, once per model cache (export, or quantization of the fp32 graph): " + "; ".join(parts)
            + ". Later runs load them (no export in any timing above or below).")


def _throughput_table(results: dict[str, Any], n: int) -> list[str]:
    from .backends import BENCH_BACKENDS

    rows = [(f"{stage} ({b})", n / results[f"ours_{stage}_{b}"]["seconds"], n / results[f"raw_{stage}"]["seconds"],
             results[f"ours_{stage}_{b}"]["rss_mb"], results[f"raw_{stage}"]["rss_mb"])
            for stage in ("dense", "sparse") for b in BENCH_BACKENDS]
    table = ["| stage (backend) | ours chunks/s | raw chunks/s | ratio | ours peak RSS MB | raw peak RSS MB | RSS ratio |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    return table + [f"| {s} | {o:.1f} | {r:.1f} | {o / r:.2f}× | {om:.0f} | {rm:.0f} | {om / rm:.2f} |"
                    for s, o, r, om, rm in rows]


def report(results: dict[str, Any], figs: dict[str, Any], docs: int, changed_docs: int, scale: int) -> str:
    first, unchanged = results["first"], results["unchanged"]
    ours_d, peak = _fp32_dense(results), results["matmul"]["flops_per_s"]
    achieved = ours_d["flops"] / ours_d["seconds"]
    wall_unchanged = unchanged["stage_s"]["dense"] + unchanged["stage_s"]["sparse"]
    wall_first = first["stage_s"]["dense"] + first["stage_s"]["sparse"]
    return "\n".join([
        f"Machine: {machine()}; torch threads {results['matmul']['threads']}; default encoder backend "
        f"{results['ours_dense'].get('backend', 'torch')}.",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Collection: {figs['chunks']} chunks from {docs} "
        f"documents (log-normal lengths); {scale}× collection: {results['scaled']['chunks']} chunks.",
        "",
        *_throughput_table(results, figs["chunks"]),
        "",
        f"- Dense model compute (torch backend, fp32): {achieved / 1e9:.1f} GFLOP/s achieved vs {peak / 1e9:.1f} GFLOP/s torch matmul "
        f"peak on this machine: {figs['dense_flops_utilization']:.0%} utilization.",
        f"- Vectors of the default backend ({DEFAULT_BACKEND}) against the raw calls: dense max |Δ| "
        f"{figs['dense_max_abs_diff']:.2e}; sparse max |Δ| {figs['sparse_max_abs_diff']:.2e} (first 200 chunks). "
        "Every backend's agreement: the table below.",
        f"- Re-run, nothing changed: embedding work {figs['unchanged_rerun_fraction']:.1%} of the first run "
        f"({unchanged['encoded']} chunks encoded; dense+sparse stage wall time incl. model load "
        f"{wall_unchanged:.1f}s vs {wall_first:.1f}s).",
        f"- Re-run, {changed_docs} documents (1%) changed: embedding work {figs['changed_1pct_fraction']:.1%} "
        f"({results['changed']['encoded']} chunks encoded).",
        f"- Peak RSS of a full run: {first['rss_mb']:.0f} MB at 1×, {results['scaled']['rss_mb']:.0f} MB at "
        f"{scale}×: ratio {figs['rss_10x_ratio']:.2f}.",
        f"- Orchestration overhead (run start, IO, checks, manifest, export): "
        f"{figs['overhead_fraction']:.1%} of {first['wall_s']:.1f}s.",
        _export_line(results["export"]),
        _scaling_line(results["scaling"]),
        "",
        "### Encoder backends against the raw library calls",
        "",
        f"{results['backends']['chunks']} chunks of the collection, one process, one thread, "
        f"{results['backends']['rounds']} interleaved rounds (every contender once per round; the best round counts). "
        "Ratios use CPU time, which counts only this process's own work on a shared machine; wall-time ratios "
        f"beside them. Load average {results['backends']['load_before']:.1f} before, "
        f"{results['backends']['load_after']:.1f} after. Raw: `SentenceTransformer.encode` / stock "
        "`SparseEncoder.encode`, fp32, default batch size. int8 runs one text per call (batch-invariant vectors).",
        "",
        *_backend_table(results),
    ])


def _scaling_line(scaling: dict[str, Any]) -> str:
    one, two = scaling["one_worker"], scaling["two_workers"]
    return (f"- Scaling out (Celery executor, PostgreSQL instance, daemon): a backfill of {scaling['collections']} "
            f"collections × ~{scaling['chunks_per_collection']} chunks in {scaling['shards']} shards took "
            f"{one['wall_s']:.1f}s on 1 worker × {one['threads_per_worker']} torch threads and {two['wall_s']:.1f}s on "
            f"2 workers × {two['threads_per_worker']}: {scaling['workers_2_vs_1_speedup']:.2f}× faster.")


HEADER = ("# Benchmarks\n\nWritten by `make bench` (`python -m embed_assets.bench`); do not edit by hand. "
          "Baselines are the raw library calls on the same chunks, measured in the same run, each in its own "
          "process; model load excluded.\n\n")
