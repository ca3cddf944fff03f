"""``embed-collections eval``: install a labelled BEIR folder as a collection, materialize it
with dense, SPLADE and lexical vectors (or reuse the latest materialization), and measure
every retriever and fusion on it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from embed_assets.core.ingest.beir import CollectionInUse, install_beir, read_qrels, read_queries
from embed_assets.core.ingest.discovery import fingerprint_collection
from embed_assets.core.ingest.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.settings import collections_dir, get_settings
from embed_assets.core.storage.exports import FUSED_PARQUET, MANIFEST_NAME

from .console import error, setup_logging

METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")
LEXICAL_RUN_CONFIG = {"ops": {"sparse_vectors": {"config": {"enable_lexical": True}}}}


def add_parser(sub: Any) -> None:
    ev = sub.add_parser("eval", help="evaluate retrieval on a labelled BEIR folder")
    ev.add_argument("--beir", type=Path, required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/test.tsv")
    ev.add_argument("--collection", default=None, help="collection name (default: the folder's name)")
    ev.add_argument("--data-root", type=Path, default=None)
    ev.add_argument("--convex-weights", default="dense=0.5,splade=0.25,lexical=0.25",
                    help="weights of the convex combination, e.g. dense=0.6,lexical=0.4")
    ev.add_argument("--report", type=Path, default=None, help="also write the figures as markdown here")


def parse_weights(text: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def reusable(manifest_path: Path, folder: Path, manager: Any) -> bool:
    """The latest export has lexical vectors and was built from these files and models."""
    if not manifest_path.is_file():
        return False
    m = json.loads(manifest_path.read_text("utf-8"))
    return (m.get("stages", {}).get("chunks", {}).get("inputs_sha256") == fingerprint_collection(folder)
            and m.get("activation", {}).get("features", {}).get("lexical") is True
            and m["activation"]["sparse_model"] == manager.sparse_model
            and [x["name"] for x in m["stages"]["dense"]["models"]] == [d.ref for d in manager.dense_models])


def _materialize(name: str, data_root: Path) -> str | None:
    """Run the graph on ``name`` with lexical vectors; the failure message, or None."""
    from embed_assets.defs.config import SPARSE_CLI_TAG
    from embed_assets.runs.runner import DagsterRunner

    from .console import cli_instance

    try:
        instance, _ = cli_instance(data_root)
    except RuntimeError as exc:  # the instance serves another data root
        return str(exc)
    outcome = DagsterRunner.for_data_root(instance, data_root=data_root).materialize(
        name, tags={SPARSE_CLI_TAG: "enable"}, run_config=LEXICAL_RUN_CONFIG)
    return None if outcome.success else f"materializing {name} failed; see the run {outcome.run_id} in the Dagster UI"


def main(args: argparse.Namespace) -> int:
    from embed_assets.core.retrieval.evaluation import evaluate_retrievers
    from embed_assets.core.retrieval.index import ExportIndex
    from embed_assets.defs.definitions import build_resources

    setup_logging()
    name = args.collection or args.beir.resolve().name
    try:
        validate_collection_name(name)
    except UnsafeCollectionName as exc:
        error(str(exc))
        return 2
    data_root = (args.data_root or get_settings().resolved_data_root).resolve()
    folder = collections_dir(data_root) / name
    try:
        install_beir(args.beir, folder)
    except (CollectionInUse, FileNotFoundError) as exc:
        error(str(exc))
        return 2
    export_dir = get_settings().export_root_for(data_root) / name
    manager = build_resources(data_root=data_root)["model_manager"]
    if reusable(export_dir / MANIFEST_NAME, folder, manager):
        print(f"{name}: corpus and settings unchanged; using the latest materialization", file=sys.stderr)
    else:
        print(f"{name}: materializing (dense, SPLADE and lexical vectors)", file=sys.stderr)
        failure = _materialize(name, data_root)
        if failure or not (export_dir / MANIFEST_NAME).is_file():
            error(failure or f"materializing {name} published no manifest")
            return 1
    queries, qrels = read_queries(folder), read_qrels(folder)
    results = evaluate_retrievers(ExportIndex.load(export_dir / FUSED_PARQUET), manager.query_encoder(),  # type: ignore[attr-defined]
                                  queries, qrels, parse_weights(args.convex_weights))
    judged = len([q for q in queries if q in qrels])
    table = format_table(results)
    print(table)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(quality_report(name, args.beir, judged, results, table), "utf-8")
    print(json.dumps({"collection": name, "queries": judged,
                      **{metric: {k: round(v[metric], 4) for k, v in results.items()} for metric in METRICS}}))
    return 0


def format_table(results: dict[str, dict[str, float]]) -> str:
    rows = ["| method | nDCG@10 | MRR@10 | Recall@10 | Recall@100 |", "| --- | --- | --- | --- | --- |"]
    for name, m in results.items():
        rows.append(f"| {name} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} | {m['recall@10']:.4f} | "
                    f"{m['recall@100']:.4f} |")
    return "\n".join(rows)


def quality_report(name: str, beir: Path, judged: int, results: dict[str, dict[str, float]], table: str) -> str:
    """The markdown of docs/retrieval-quality.md: source, figures and the fusion choice."""
    from embed_assets.core.retrieval.evaluation import DEFAULT_CONVEX_WEIGHTS, DEFAULT_HYBRID, FUSIONS

    source = (beir / "README.md").read_text("utf-8").split("\n", 2)[-1].strip() if (beir / "README.md").is_file() else ""
    singles = {k: v["ndcg@10"] for k, v in results.items() if k not in FUSIONS}
    fusions = {k: v["ndcg@10"] for k, v in results.items() if k in FUSIONS}
    best_single = max(singles, key=lambda k: singles[k])
    best_fusion = max(fusions, key=lambda k: fusions[k]) if fusions else best_single
    default = results.get(DEFAULT_HYBRID, {}).get("ndcg@10", 0.0)
    return (
        "# Retrieval quality\n\n"
        "Written by `make quality` (`embed-collections eval --beir data/eval/python-docstrings --data-root .quality --report "
        "docs/retrieval-quality.md`); do not edit by hand.\n\n"
        f"## The labelled set: `{name}`\n\n{source}\n\n"
        f"## Results ({judged} queries, {dt.datetime.now(dt.UTC):%Y-%m-%d})\n\n{table}\n\n"
        f"RRF uses k = 60; `convex` combines per-query min–max-normalized scores with weights "
        f"{DEFAULT_CONVEX_WEIGHTS}. A document scores as its best chunk.\n\n"
        "## The fusion default\n\n"
        f"Best single retriever: **{best_single}** (nDCG@10 {singles[best_single]:.4f}). "
        f"Best fusion: **{best_fusion}** (nDCG@10 {fusions.get(best_fusion, 0.0):.4f}). "
        f"The product's default hybrid (`search --mode hybrid`, the quality gate's `hybrid` mode) is "
        f"**{DEFAULT_HYBRID}**, nDCG@10 {default:.4f} here"
        + (" — the best measured." if DEFAULT_HYBRID == best_fusion else
           f" — {best_fusion} measured higher on this set; see the note below.") + "\n"
    )
