"""docs/retrieval-quality.md and its chart: the figures of ``embed-collections eval --report``,
the cross-validated choice of the default hybrid, and a PNG of nDCG@10 per method."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embed_assets.core.retrieval.crossval import CrossValidation

COMMAND = ("`embed-collections eval --beir data/eval/python-docstrings --data-root .quality --report "
           "docs/retrieval-quality.md`")


def chart_path(report: Path) -> Path:
    return report.with_suffix(".png")


def write_chart(path: Path, results: dict[str, dict[str, float]], cv: CrossValidation | None) -> None:
    """nDCG@10 per method on all queries and, when cross-validated, held-out nDCG@10 per fold."""
    try:
        import matplotlib
    except ImportError as exc:  # an optional extra
        raise RuntimeError("the report's chart needs matplotlib: pip install 'embed_assets[reports]'") from exc
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, 2 if cv else 1, figsize=(11 if cv else 6, 4.2), squeeze=False)
    names = list(results)
    values = [results[n]["ndcg@10"] for n in names]
    left = axes[0][0]
    bars = left.barh(names[::-1], values[::-1], color="#4c72b0")
    left.bar_label(bars, fmt="%.3f", padding=2, fontsize=8)
    left.set_xlim(0, 1)
    left.set_xlabel("nDCG@10 (all queries)")
    left.set_title("Per method")
    if cv:
        right = axes[0][1]
        folds = [f.fold for f in cv.folds]
        for label, key, marker in (("chosen (fitted on other folds)", "chosen_ndcg", "o"),
                                   ("previous default", "previous_ndcg", "s"), ("best single", "single_ndcg", "^")):
            right.plot(folds, [getattr(f, key) for f in cv.folds], marker=marker, label=label)
        right.set_xticks(folds)
        right.set_xlabel("held-out fold")
        right.set_ylabel("nDCG@10")
        right.set_title(f"{cv.k}-fold cross-validation")
        right.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def folds_table(cv: CrossValidation) -> str:
    rows = ["| fold | queries | fitted on the other folds | nDCG@10 there | held-out: chosen | held-out: previous "
            "default | held-out: best single |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for f in cv.folds:
        rows.append(f"| {f.fold} | {f.queries} | {f.chosen.describe()} | {f.chosen_train:.4f} | {f.chosen_ndcg:.4f} | "
                    f"{f.previous_ndcg:.4f} | {f.single_ndcg:.4f} ({f.single}) |")
    rows.append(f"| mean ± std | {cv.queries} | | | **{cv.chosen_mean:.4f} ± {cv.chosen_std:.4f}** | "
                f"{cv.previous_mean:.4f} ± {cv.previous_std:.4f} | {cv.single_mean:.4f} ± {cv.single_std:.4f} |")
    return "\n".join(rows)


def levers_table(cv: CrossValidation) -> str:
    rows = ["| levers (weights fitted on the other folds) | candidates | held-out nDCG@10 | vs previous default | "
            "folds won |", "| --- | --- | --- | --- | --- |"]
    for lever in cv.levers:
        rows.append(f"| {lever.lever} | {lever.candidates} | {lever.mean:.4f} ± {lever.std:.4f} | {lever.gain:+.4f} | "
                    f"{lever.folds_won}/{cv.k} |")
    return "\n".join(rows)


def cross_validation_section(cv: CrossValidation) -> str:
    low, high = cv.gain_interval
    return (
        f"## Choosing the default by {cv.k}-fold cross-validation\n\n"
        f"The {cv.queries} queries are split into {cv.k} folds (seed {cv.seed}). For each fold, every one of "
        f"{cv.candidates} candidates — chunk aggregation (`max`: a document is its best chunk; `mean2`: the mean of "
        "its best two chunks), lexical scope (BM25 of the best chunk, or of the whole document), and fusion (convex "
        "with min–max or DBSF normalization over a weight grid; weighted RRF over a weight grid and k ∈ {5, 20, 60}) "
        "— is scored on the other folds; the best is measured on the held-out fold, beside the previous default "
        f"(`convex`: {cv.previous.describe()}) and the best single retriever (also chosen on the other folds). "
        "Only held-out figures are reported here.\n\n"
        f"{folds_table(cv)}\n\n"
        f"Held-out gain of the chosen procedure over the previous default: **{cv.gain:+.4f}** nDCG@10 "
        f"(higher on {cv.folds_won} of {cv.k} folds; 95% paired-bootstrap interval over the held-out queries "
        f"[{low:+.4f}, {high:+.4f}]).\n\n"
        "Each lever on its own, cross-validated the same way:\n\n"
        f"{levers_table(cv)}\n"
    )


def default_section(results: dict[str, dict[str, float]], cv: CrossValidation | None) -> str:
    from embed_assets.core.retrieval.evaluation import DEFAULT_FUSION, DEFAULT_HYBRID
    from embed_assets.core.retrieval.index import RETRIEVERS

    # The single retrievers by name: every other row (ours or the engine's) fuses several.
    singles = {k: results[k]["ndcg@10"] for k in RETRIEVERS if k in results}
    best_single = max(singles, key=lambda k: singles[k])
    text = (f"## The fusion default\n\nThe product's default hybrid (`search --mode hybrid`, the quality gate's "
            f"`hybrid` mode) is **{DEFAULT_HYBRID}**: {DEFAULT_FUSION.describe()}. Best single retriever: "
            f"**{best_single}** (nDCG@10 {singles[best_single]:.4f} on all queries).")
    if cv is None:
        return text + "\n"
    same = cv.fitted == DEFAULT_FUSION
    low, high = cv.gain_interval
    certainty = ("clear of the noise (the interval is above 0)" if low > 0 else
                 "a small gain, not a certain one (the interval includes 0)")
    verdict = (f"beats the previous default on held-out folds by {cv.gain:+.4f} ({cv.folds_won}/{cv.k} folds) — "
               f"{certainty}" if cv.gain > 0 else
               f"does not beat the previous default on held-out folds ({cv.gain:+.4f}); the default should not be it")
    return text + (
        f" Fitted on all {cv.queries} queries, the procedure picks {cv.fitted.describe()} "
        f"({'the product default' if same else 'not the product default: see the note below'}); its "
        f"{cv.fitted_ndcg:.4f} on those same queries is optimistic — the held-out estimate is "
        f"{cv.chosen_mean:.4f} ± {cv.chosen_std:.4f}, against {cv.previous_mean:.4f} for the previous default. "
        f"The procedure {verdict}.\n")


def quality_report(name: str, beir: Path, judged: int, results: dict[str, dict[str, float]], table: str,
                   cv: CrossValidation | None = None, chart: Path | None = None) -> str:
    """The markdown of docs/retrieval-quality.md."""
    source = (beir / "README.md").read_text("utf-8").split("\n", 2)[-1].strip() if (beir / "README.md").is_file() else ""
    picture = f"![nDCG@10 per method and per held-out fold]({chart.name})\n\n" if chart else ""
    return (
        f"# Retrieval quality\n\nWritten by `make quality` ({COMMAND}); do not edit by hand.\n\n"
        f"## The labelled set: `{name}`\n\n{source}\n\n"
        f"## Results ({judged} queries, {dt.datetime.now(dt.UTC):%Y-%m-%d})\n\n{table}\n\n{picture}"
        "Metrics are trec_eval's (`ndcg_cut_10` with linear gain, `recip_rank` on the run cut at 10, "
        "`recall_10`, `recall_100`); documents with equal scores are ranked by id, descending, as trec_eval ranks "
        "them. RRF rows use k = 60; `convex` is the previous default (min–max, best chunk, weights "
        "0.5/0.25/0.25); `hybrid` is the product's default, chosen on this set — its figure here is optimistic, "
        "the cross-validated one below is not.\n\n"
        + (cross_validation_section(cv) + "\n" if cv else "")
        + default_section(results, cv)
    )
