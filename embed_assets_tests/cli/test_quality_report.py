"""The quality report names the best single retriever among the single retrievers only."""

from embed_assets.cli.quality_report import default_section


def test_the_best_single_retriever_is_never_a_fusion_of_the_engine() -> None:
    rows = {"dense": 0.63, "splade": 0.52, "lexical": 0.59, "rrf_all": 0.63, "engine_dbsf": 0.65, "hybrid": 0.69}
    text = default_section({k: {"ndcg@10": v} for k, v in rows.items()}, None)
    assert "Best single retriever: **dense** (nDCG@10 0.6300" in text
