"""Ranking metrics over document rankings and graded judgments (BEIR qrels).

A ranking is a list of document ids, best first. Documents without a judgment count
as not relevant. Ties in scores are broken by document id before ranking (see
:func:`rank`), so every figure is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def rank(scores: Mapping[str, float], k: int | None = None) -> list[str]:
    """Document ids by score, highest first; equal scores in id order."""
    ordered = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    return [doc for doc, _ in (ordered[:k] if k else ordered)]


def ndcg_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10) -> float:
    dcg = sum((2 ** judgments.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranking[:k]))
    ideal = sorted((g for g in judgments.values() if g > 0), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def mrr_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranking[:k]):
        if judgments.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def recall_at_k(ranking: Sequence[str], judgments: Mapping[str, int], k: int) -> float:
    relevant = {doc for doc, g in judgments.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranking[:k])) / len(relevant)


def evaluate(rankings: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, MRR@10, Recall@10 and Recall@100 over the judged queries."""
    queries = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    if not queries:
        return {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@10": 0.0, "recall@100": 0.0}
    totals = {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@10": 0.0, "recall@100": 0.0}
    for q in queries:
        ranking = rankings.get(q, [])
        totals["ndcg@10"] += ndcg_at_k(ranking, qrels[q], 10)
        totals["mrr@10"] += mrr_at_k(ranking, qrels[q], 10)
        totals["recall@10"] += recall_at_k(ranking, qrels[q], 10)
        totals["recall@100"] += recall_at_k(ranking, qrels[q], 100)
    return {name: value / len(queries) for name, value in totals.items()}
