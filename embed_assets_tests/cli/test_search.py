"""Search for daily use: titles, text only when asked, JSON, many queries in one process,
and scores explained with the weights renormalized over the retrievers present."""

import json
from pathlib import Path

import dagster as dg
import pytest

from embed_assets.cli import main

from ..helpers import materialize_collection

pytestmark = pytest.mark.slow


def test_search_json_many_queries_titles_and_renormalized_weights(
        instance: dg.DagsterInstance, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert materialize_collection(instance, data_root, "ops-faq").success  # dense + SPLADE, no lexical
    queries = tmp_path / "queries.txt"
    queries.write_text("how do I restart the worker\n\n" + json.dumps({"_id": "q2", "text": "rotate credentials"}))
    base = ["search", "--collection", "ops-faq", "--data-root", str(data_root), "--top-k", "3"]
    for source in ("index", "exports"):
        assert main([*base, "--source", source, "--queries", str(queries), "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [line["query_id"] for line in lines] == ["1", "q2"]
        for line in lines:
            hits = line["hits"]
            assert len(hits) == 3 and all(h["title"] and "text" not in h for h in hits)
            # The default weights 0.5/0.15/0.35 over dense + SPLADE only: 0.77 and 0.23, scores in [0, 1].
            assert "0.77·dense + 0.23·splade" in line["explanation"] and 0.0 <= hits[-1]["score"] <= hits[0]["score"] <= 1.0
    assert main([*base, "--show-text", "--json", "restart"]) == 0
    assert all(h["text"] for h in json.loads(capsys.readouterr().out)["hits"])
    assert main([*base, "--fusion", "convex", "restart"]) == 0
    assert "0.67·dense + 0.33·splade" in capsys.readouterr().out
