"""``make quality``'s per-backend figures: ``embed-collections eval`` once per encoder backend
on the labelled set, and docs/backends.md from their results.

    python -m embed_assets.eval_backends --beir data/eval/python-docstrings --data-root .quality \\
        --output docs/backends.md

Each backend is a separate ``eval`` process with ``EMBED_ASSETS_ENCODER_BACKEND`` set, so
the collection is materialized and its queries encoded end to end on that backend (the
embedding cache keeps each backend's vectors apart). Retrieval is exact, over the exports
(``--source exports``), so the figures differ by the encoders alone, not by an approximate
index; the hybrid's cross-validation is ``make quality``'s first report's. The rule for the CPU default: fp32
ONNX is lossless, so it is the default when it measures at torch's quality; int8 becomes
the default only if it costs at most 1 % (relative) nDCG@10 on every retriever and fusion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from embed_assets.core.encode.backends import BACKENDS, DEFAULT_BACKEND

MAX_INT8_COST = 0.01


def run_eval(backend: str, beir: Path, data_root: Path) -> dict[str, Any]:
    """The last JSON line of ``embed-collections eval`` on ``backend``."""
    env = {**os.environ, "EMBED_ASSETS_ENCODER_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
    env.pop("EMBED_ASSETS_DENSE_BACKEND", None)
    env.pop("EMBED_ASSETS_SPARSE_BACKEND", None)
    done = subprocess.run([sys.executable, "-m", "embed_assets.cli", "eval", "--beir", str(beir), "--data-root",
                           str(data_root), "--source", "exports", "--folds", "0"], env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"eval on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def cost(results: dict[str, dict[str, Any]], backend: str, method: str) -> float:
    """Relative nDCG@10 lost against torch (negative: gained)."""
    base = results["torch"]["ndcg@10"][method]
    return (base - results[backend]["ndcg@10"][method]) / base if base else 0.0


def verdict(results: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The CPU default the figures support, and why."""
    methods = list(results["torch"]["ndcg@10"])
    int8 = {m: cost(results, "onnx-int8", m) for m in methods}
    worst = max(int8, key=lambda m: int8[m])
    if int8[worst] <= MAX_INT8_COST:
        return "onnx-int8", (f"int8 costs at most {int8[worst]:.2%} nDCG@10 ({worst}), within the "
                             f"{MAX_INT8_COST:.0%} allowance")
    fp32 = max(abs(cost(results, "onnx", m)) for m in methods)
    return "onnx", (f"int8 costs {int8[worst]:.2%} nDCG@10 on {worst}, more than the {MAX_INT8_COST:.0%} "
                    f"allowance; fp32 ONNX measures within {fp32:.2%} of torch (lossless)")


def report(results: dict[str, dict[str, Any]], beir: Path) -> str:
    methods = list(results["torch"]["ndcg@10"])
    header = "| backend | " + " | ".join(methods) + " |"
    rows = [header, "|" + " --- |" * (len(methods) + 1)]
    for backend, res in results.items():
        cells = []
        for m in methods:
            value = res["ndcg@10"][m]
            delta = "" if backend == "torch" else f" ({0.0 - cost(results, backend, m):+.2%})"
            cells.append(f"{value:.4f}{delta}")
        rows.append(f"| {backend} | " + " | ".join(cells) + " |")
    choice, why = verdict(results)
    queries = results["torch"]["queries"]
    return (
        "# Encoder backends: retrieval quality\n\n"
        "Written by `make quality` (`python -m embed_assets.eval_backends`); do not edit by hand. Speed: "
        "[benchmarks.md](benchmarks.md).\n\n"
        f"nDCG@10 on `{beir.name}` ({queries} queries, {dt.datetime.now(dt.UTC):%Y-%m-%d}), one "
        "`embed-collections eval` per backend (`EMBED_ASSETS_ENCODER_BACKEND`): the collection materialized and "
        "the queries encoded on that backend. In brackets: the relative change against torch.\n\n"
        + "\n".join(rows) + "\n\n"
        f"Rule: fp32 ONNX is the CPU default when it holds torch's quality; int8 becomes the default only if it "
        f"costs at most {MAX_INT8_COST:.0%} (relative) nDCG@10 on every retriever and fusion.\n\n"
        f"Measured: {why}. These figures support **{choice}**; the product's default is **{DEFAULT_BACKEND}**"
        + (".\n" if choice == DEFAULT_BACKEND else " (see the README on why they differ).\n"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.eval_backends",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--beir", type=Path, required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=None, help="markdown report to write")
    args = parser.parse_args(argv)
    results = {}
    for backend in BACKENDS:
        print(f"eval on {backend} ...", file=sys.stderr)
        results[backend] = run_eval(backend, args.beir, args.data_root)
    text = report(results, args.beir)
    print(text)
    if args.output:
        args.output.write_text(text, "utf-8")
    print(json.dumps({b: r["ndcg@10"] for b, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
