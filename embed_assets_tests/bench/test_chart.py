"""The benchmark's chart is drawn from the measurement's own results structure."""

from pathlib import Path

import pytest

from embed_assets.bench.backends import BENCH_BACKENDS
from embed_assets.bench.chart import chart_path, write_chart


def _results() -> dict:
    stage = {"seconds": 10.0, "rss_mb": 900.0}
    timings = {name: {"cpu_s": 4.0 / (i + 1), "wall_s": 4.0 / (i + 1)} for i, name in enumerate(["raw", *BENCH_BACKENDS])}
    return {"first": {"chunks": 2000}, "raw_dense": stage, "raw_sparse": {**stage, "seconds": 20.0},
            **{f"ours_{s}_{b}": {**stage, "seconds": 5.0} for s in ("dense", "sparse") for b in BENCH_BACKENDS},
            "backends": {"chunks": 100, "dense": {"timings": timings}, "sparse": {"timings": timings}}}


def test_the_chart_is_a_png_beside_the_report(tmp_path: Path) -> None:
    report = tmp_path / "docs" / "benchmarks.md"
    write_chart(chart_path(report), _results(), BENCH_BACKENDS)
    png = tmp_path / "docs" / "benchmarks.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_a_missing_measurement_is_an_error_not_a_silent_gap(tmp_path: Path) -> None:
    results = _results()
    del results["ours_sparse_onnx"]
    with pytest.raises(KeyError):
        write_chart(tmp_path / "b.png", results, BENCH_BACKENDS)
