from embed_assets.core.retrieval.evaluation import DEFAULT_HYBRID
from embed_assets.defs.checks.quality import scored_mode


def test_the_gate_scores_the_default_hybrid_or_the_one_retriever_there_is() -> None:
    assert scored_mode("hybrid", ["dense", "splade", "lexical"]) == DEFAULT_HYBRID
    assert scored_mode("hybrid", ["dense", "splade"]) == DEFAULT_HYBRID
    assert scored_mode("hybrid", ["dense"]) == "dense"
    assert scored_mode("lexical", ["dense", "splade", "lexical"]) == "lexical"
