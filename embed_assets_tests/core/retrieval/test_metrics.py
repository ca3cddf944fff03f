"""Our figures are trec_eval's: graded judgments (0/1/2), ties in scores, cut-offs.

Each reference is computed twice, independently of :mod:`embed_assets.core.retrieval.metrics`:
by trec_eval's formulas over a run small enough to check by hand, and by the same run
given to ``pytrec_eval`` directly."""

import math

import pytest
import pytrec_eval

from embed_assets.core.retrieval.metrics import METRICS, evaluate, per_query, rank

QRELS = {
    "q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1, "d9": 2},  # d9 (grade 2) is ranked 11th
    "q2": {"d5": 1, "d6": 2, "d7": 0},  # d7 and d5 tie at 0.5
    "q3": {"d21": 1},  # its only relevant document is ranked 11th
    "q4": {"z": 0},  # no relevant document: not averaged
}
RUN = {
    "q1": {"d3": 0.9, "d1": 0.8, "d8": 0.7, "d2": 0.6, "d4": 0.5, "d10": 0.4, "d11": 0.3, "d12": 0.25,
           "d13": 0.2, "d14": 0.15, "d9": 0.1},
    "q2": {"d8": 0.9, "d7": 0.5, "d5": 0.5, "d6": 0.1},
    "q3": {**{f"x{i:02d}": 1.0 - i / 100 for i in range(10)}, "d21": 0.5},
    "q4": {"z": 1.0},
}


def _dcg(gains: list[int]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))  # linear gain, as trec_eval's ndcg_cut


# By hand, in trec_eval's order (score descending, ties by document id descending):
# q1: d3 d1 d8 d2 d4 d10 d11 d12 d13 d14 | d9   -> grades 0 2 0 1 1 0 0 0 0 0
# q2: d8 d7 d5 d6                                -> grades 0 0 1 2   (d7 > d5 on the tie)
# q3: x00 … x09 | d21                            -> nothing relevant in the first 10
HAND = {
    "q1": {"ndcg@10": _dcg([0, 2, 0, 1, 1]) / _dcg([2, 2, 1, 1]), "mrr@10": 1 / 2,
           "recall@10": 3 / 4, "recall@100": 1.0},
    "q2": {"ndcg@10": _dcg([0, 0, 1, 2]) / _dcg([2, 1]), "mrr@10": 1 / 3, "recall@10": 1.0, "recall@100": 1.0},
    "q3": {"ndcg@10": 0.0, "mrr@10": 0.0, "recall@10": 0.0, "recall@100": 1.0},
}


def _pytrec_eval_directly() -> dict[str, dict[str, float]]:
    full = pytrec_eval.RelevanceEvaluator(QRELS, {"ndcg_cut.10", "recall.10,100"}).evaluate(RUN)
    top10 = {q: dict(sorted(s.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)[:10]) for q, s in RUN.items()}
    rr = pytrec_eval.RelevanceEvaluator(QRELS, {"recip_rank"}).evaluate(top10)
    return {q: {"ndcg@10": full[q]["ndcg_cut_10"], "mrr@10": rr[q]["recip_rank"], "recall@10": full[q]["recall_10"],
                "recall@100": full[q]["recall_100"]} for q in HAND}


def test_the_hand_figures_are_trec_evals() -> None:
    direct = _pytrec_eval_directly()
    for q in HAND:
        assert direct[q] == pytest.approx(HAND[q]), q


def test_per_query_figures_equal_trec_eval_on_graded_judgments_and_ties() -> None:
    ours = per_query(RUN, QRELS)
    assert set(ours) == {"q1", "q2", "q3"}  # q4 has no relevant document
    for q in HAND:
        assert ours[q] == pytest.approx(HAND[q]), q
    # Linear gain, not 2^g - 1: on q1 the exponential form would give a different figure.
    exponential = (3 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(6)) / (3 + 3 / math.log2(3) + 1 / 2 + 1 / math.log2(5))
    assert ours["q1"]["ndcg@10"] != pytest.approx(exponential, abs=1e-3)


def test_mrr_is_cut_at_ten_while_trec_evals_recip_rank_is_not() -> None:
    uncut = pytrec_eval.RelevanceEvaluator(QRELS, {"recip_rank"}).evaluate(RUN)["q3"]["recip_rank"]
    assert uncut == pytest.approx(1 / 11)
    assert per_query(RUN, QRELS)["q3"]["mrr@10"] == 0.0


def test_evaluate_is_the_mean_over_queries_with_a_relevant_document() -> None:
    result = evaluate(RUN, QRELS)
    assert set(result) == set(METRICS)
    for metric in METRICS:
        assert result[metric] == pytest.approx(sum(HAND[q][metric] for q in HAND) / 3), metric


def test_a_query_without_results_scores_zero() -> None:
    result = evaluate({"q1": RUN["q1"]}, QRELS)
    assert result["recall@100"] == pytest.approx(1 / 3)
    assert evaluate({}, {"q": {"a": 1}})["ndcg@10"] == 0.0
    assert evaluate({"q": {}}, {"q": {"a": 1}})["mrr@10"] == 0.0


def test_a_ranked_list_is_evaluated_in_its_own_order() -> None:
    assert evaluate({"q2": ["d6", "d5", "d8"]}, {"q2": QRELS["q2"]})["ndcg@10"] == pytest.approx(1.0)
    assert evaluate({"q2": ["d8", "d6"]}, {"q2": QRELS["q2"]})["mrr@10"] == pytest.approx(1 / 2)


def test_rank_orders_as_trec_eval_does() -> None:
    assert rank({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "b", "a"]
    assert rank({"b": 1.0, "a": 1.0, "c": 2.0}, k=2) == ["c", "b"]
    assert rank(RUN["q2"]) == ["d8", "d7", "d5", "d6"]
