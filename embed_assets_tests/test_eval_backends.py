"""``make quality``'s per-backend report: the CPU default the figures support, by the rule
(int8 only if it costs at most 1 % nDCG@10 on every retriever and fusion)."""

from pathlib import Path

from embed_assets.eval_backends import report, verdict


def _results(int8_dense: float, int8_hybrid: float) -> dict:
    def run(dense: float, hybrid: float) -> dict:
        return {"queries": 40, "ndcg@10": {"dense": dense, "convex": hybrid}}

    return {"torch": run(0.60, 0.70), "onnx": run(0.60, 0.70), "onnx-int8": run(int8_dense, int8_hybrid)}


def test_int8_is_chosen_only_within_one_percent_on_every_method() -> None:
    assert verdict(_results(0.597, 0.705))[0] == "onnx-int8"  # -0.5 % dense, +0.7 % hybrid
    choice, why = verdict(_results(0.60, 0.69))  # -1.43 % on the hybrid alone
    assert choice == "onnx" and "convex" in why and "1.43%" in why


def test_the_report_shows_each_backend_against_torch() -> None:
    text = report(_results(0.597, 0.705), Path("pydocs"))
    assert "| onnx-int8 | 0.5970 (-0.50%) | 0.7050 (+0.71%) |" in text
    assert "| torch | 0.6000 | 0.7000 |" in text and "support **onnx-int8**" in text
