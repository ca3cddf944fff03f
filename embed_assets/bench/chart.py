"""The benchmark's chart, written beside its markdown report: throughput of our stages
against the raw library calls per encoder backend, and every backend at one thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGES = ("dense", "sparse")


def chart_path(report: Path) -> Path:
    return report.with_suffix(".png")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # an optional extra
        raise RuntimeError("the benchmark's chart needs matplotlib: pip install 'embed_assets[reports]'") from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def _grouped(ax: Any, series: dict[str, list[float]], title: str, ylabel: str) -> None:
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        bars = ax.bar([s + (i - (len(series) - 1) / 2) * width for s in range(len(STAGES))], values, width,
                      label=label)
        ax.bar_label(bars, fmt="%.0f", padding=2, fontsize=7)
    ax.set_xticks(range(len(STAGES)), STAGES)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def write_chart(path: Path, results: dict[str, Any], backends: tuple[str, ...]) -> None:
    """Left: chunks/s of a stage run (ours per backend, raw library call) on the benchmark
    collection. Right: chunks/s of CPU time at one thread, interleaved rounds."""
    plt = _pyplot()
    n = results["first"]["chunks"]
    pipeline = {"raw library call": [n / results[f"raw_{s}"]["seconds"] for s in STAGES]}
    pipeline.update({f"ours, {b}": [n / results[f"ours_{s}_{b}"]["seconds"] for s in STAGES] for b in backends})
    comparison = results["backends"]
    names = ["raw", *[b for b in backends if b in comparison["dense"]["timings"]]]
    one_thread = {("raw library call" if b == "raw" else f"ours, {b}"):
                  [comparison["chunks"] / comparison[s]["timings"][b]["cpu_s"] for s in STAGES] for b in names}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    _grouped(left, pipeline, f"Stage throughput ({n} chunks, all threads)", "chunks/s")
    _grouped(right, one_thread, f"One thread, CPU time ({comparison['chunks']} chunks)", "chunks/s")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
