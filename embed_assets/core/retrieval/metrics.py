"""Ranking metrics from trec_eval itself (``pytrec_eval``), over graded judgments (BEIR qrels).

A run gives each query a score per document. Documents are ordered the way trec_eval
orders them — score descending, equal scores by document id *descending* (see
:func:`rank`) — so every figure is deterministic and equals what ``trec_eval`` prints for
the same run. Documents without a judgment count as not relevant; a judgment of 1 or
more is relevant.

- ``ndcg@10``: trec_eval's ``ndcg_cut_10`` (gain = the judgment, linear; log2 discount).
- ``mrr@10``: trec_eval's ``recip_rank`` over the run cut to its best 10 documents
  (``recip_rank`` itself has no cut-off).
- ``recall@10``, ``recall@100``: trec_eval's ``recall_10`` and ``recall_100``.

Means are taken over the queries with at least one relevant document; such a query
that the run leaves out (or answers with nothing) scores 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytrec_eval

METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")
Run = Mapping[str, float] | Sequence[str]


def rank(scores: Mapping[str, float], k: int | None = None) -> list[str]:
    """Document ids in trec_eval's order: highest score first, equal scores by id descending."""
    ordered = sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    return [doc for doc, _ in (ordered[:k] if k else ordered)]


def as_scores(run: Run) -> dict[str, float]:
    """A run as scores: a mapping as it is, a ranked list (best first) as descending ranks."""
    if isinstance(run, Mapping):
        return {str(doc): float(score) for doc, score in run.items()}
    return {str(doc): float(len(run) - i) for i, doc in enumerate(run)}


def judged_queries(qrels: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Queries with at least one relevant document, sorted."""
    return sorted(q for q, judgments in qrels.items() if any(g > 0 for g in judgments.values()))


def per_query(runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, float]]:
    """Every metric per judged query (0 where the run has nothing for it)."""
    queries = judged_queries(qrels)
    judged = {q: {d: int(g) for d, g in qrels[q].items()} for q in queries}
    scores = {q: as_scores(runs[q]) for q in queries if q in runs and len(runs[q]) > 0}
    top10 = {q: {d: s[d] for d in rank(s, 10)} for q, s in scores.items()}
    full = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10", "recall.10,100"}).evaluate(scores)
    cut = pytrec_eval.RelevanceEvaluator(judged, {"recip_rank"}).evaluate(top10)
    out = {}
    for q in queries:
        f, c = full.get(q, {}), cut.get(q, {})
        out[q] = {"ndcg@10": f.get("ndcg_cut_10", 0.0), "mrr@10": c.get("recip_rank", 0.0),
                  "recall@10": f.get("recall_10", 0.0), "recall@100": f.get("recall_100", 0.0)}
    return out


class NdcgAt10:
    """nDCG@10 (trec_eval's ``ndcg_cut_10``) per judged query, for many runs against the same judgments."""

    def __init__(self, qrels: Mapping[str, Mapping[str, int]]) -> None:
        self.queries = judged_queries(qrels)
        judged = {q: {d: int(g) for d, g in qrels[q].items()} for q in self.queries}
        self._evaluator = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10"})

    def __call__(self, runs: Mapping[str, Run]) -> dict[str, float]:
        scores = {q: as_scores(runs[q]) for q in self.queries if q in runs and len(runs[q]) > 0}
        figures = self._evaluator.evaluate(scores)
        return {q: figures.get(q, {}).get("ndcg_cut_10", 0.0) for q in self.queries}


def mean(figures: Mapping[str, Mapping[str, float]], queries: Sequence[str] | None = None) -> dict[str, float]:
    """Mean of each metric over ``queries`` (default: all of ``figures``)."""
    chosen = list(figures if queries is None else queries)
    if not chosen:
        return dict.fromkeys(METRICS, 0.0)
    return {m: sum(figures[q][m] for q in chosen) / len(chosen) for m in METRICS}


def evaluate(runs: Mapping[str, Run], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, MRR@10, Recall@10 and Recall@100 over the judged queries.

    ``runs`` maps a query to its document scores or to its ranked document ids."""
    return mean(per_query(runs, qrels))
