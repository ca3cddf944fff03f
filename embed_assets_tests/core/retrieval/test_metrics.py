import math

import pytest

from embed_assets.core.retrieval.metrics import evaluate, mrr_at_k, ndcg_at_k, rank, recall_at_k


def test_rank_breaks_ties_by_id() -> None:
    assert rank({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]
    assert rank({"b": 1.0, "a": 1.0, "c": 2.0}, k=2) == ["c", "a"]


def test_ndcg_by_hand() -> None:
    judgments = {"d1": 2, "d2": 1, "d3": 0}
    ranking = ["d3", "d1", "x", "d2"]  # x has no judgment: not relevant
    dcg = (2**2 - 1) / math.log2(3) + (2**1 - 1) / math.log2(5)
    idcg = (2**2 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    assert ndcg_at_k(ranking, judgments, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["d1", "d2"], judgments, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], judgments, 10) == 0.0
    assert ndcg_at_k(["d2", "d1"], judgments, 1) == pytest.approx(1 / 3)  # cut-off at 1


def test_mrr_and_recall_by_hand() -> None:
    judgments = {"a": 1, "b": 1, "c": 0}
    assert mrr_at_k(["c", "x", "b", "a"], judgments, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["c", "x", "b"], judgments, 2) == 0.0
    assert recall_at_k(["c", "x", "b"], judgments, 10) == pytest.approx(0.5)
    assert recall_at_k(["a", "b"], judgments, 1) == pytest.approx(0.5)


def test_evaluate_averages_judged_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}  # q3 has no relevant document
    rankings = {"q1": ["a"], "q2": ["x", "b"]}
    result = evaluate(rankings, qrels)
    assert result["mrr@10"] == pytest.approx((1 + 0.5) / 2)
    assert result["recall@10"] == pytest.approx(1.0)
    assert result["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert evaluate({}, {"q": {"a": 1}})["ndcg@10"] == 0.0
