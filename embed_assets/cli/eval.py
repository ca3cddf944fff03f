"""``embed-collections eval``: install a labelled BEIR folder as a collection, materialize it
with dense, SPLADE and lexical vectors (or reuse the latest materialization), and measure
every retriever and fusion on it."""

from __future__ import annotations

import argparse
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


EPILOG = """examples:
  embed-collections eval --beir data/eval/python-docstrings
  embed-collections eval --beir ~/beir/scifact --source exports --folds 0
  EMBED_ASSETS_ENCODER_BACKEND=torch embed-collections eval --beir ~/beir/scifact --report scifact.md

exit status: 0 evaluated, 1 the materialization failed, 2 bad arguments or a foreign collection.
"""


def add_parser(sub: Any) -> None:
    ev = sub.add_parser("eval", help="evaluate retrieval on a labelled BEIR folder", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter, description=(
                            "Install a BEIR folder as a collection, materialize it with dense, SPLADE and lexical "
                            "vectors (or reuse the latest materialization when nothing changed), and print nDCG@10, "
                            "MRR@10, Recall@10 and Recall@100 per retriever and fusion; the last line is JSON."))
    ev.add_argument("--beir", type=Path, required=True, metavar="DIR",
                    help="folder with corpus.jsonl, queries.jsonl, qrels/test.tsv")
    ev.add_argument("--collection", default=None, metavar="NAME",
                    help="collection name (default: the folder's name); never one that holds other files")
    ev.add_argument("--data-root", type=Path, default=None, metavar="DIR",
                    help="default: $EMBED_ASSETS_DATA_ROOT, else the project's data/")
    ev.add_argument("--convex-weights", default="dense=0.5,splade=0.25,lexical=0.25", metavar="NAME=W,...",
                    help="weights of the `convex` row (default: %(default)s)")
    ev.add_argument("--folds", type=int, default=5,
                    help="cross-validate the choice of hybrid over this many folds of queries (default: 5; 0: skip)")
    ev.add_argument("--report", type=Path, default=None,
                    help="also write the figures as markdown here, with a PNG chart beside it")
    ev.add_argument("--source", choices=("index", "exports"), default="index",
                    help="query the vector index (default; adds the engine's fusions) or the exports exactly")
    ev.add_argument("--exact", action="store_true", help="index only: brute-force dense search even over HNSW")


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
            and [x["name"] for x in m["stages"]["dense"]["models"]] == [d.ref for d in manager.dense_models]
            and _requested(m["stages"]["dense"]["models"]) == {manager.backend_for("dense")}
            and _requested([e for e in [(m["stages"].get("sparse") or {}).get("model")] if e])
            <= {manager.backend_for("sparse")})


def _requested(entries: list[dict[str, Any]]) -> set[str]:
    """The backends a manifest's model entries were configured with (torch before backends existed)."""
    return {(e.get("backend") or {}).get("requested", "torch") for e in entries}


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
    from embed_assets.core.retrieval.evaluation import DEFAULT_HYBRID, evaluate_retrievers
    from embed_assets.core.retrieval.index import ExportIndex
    from embed_assets.defs.definitions import build_resources

    from .search import collection_backends

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
    if reusable(export_dir / MANIFEST_NAME, folder, manager) and (args.source == "exports"
                                                                   or index_reusable(name, data_root, export_dir)):
        print(f"{name}: corpus and settings unchanged; using the latest materialization", file=sys.stderr)
    else:
        print(f"{name}: materializing (dense, SPLADE and lexical vectors)", file=sys.stderr)
        failure = _materialize(name, data_root)
        if failure or not (export_dir / MANIFEST_NAME).is_file():
            error(failure or f"materializing {name} published no manifest")
            return 1
    queries, qrels = read_queries(folder), read_qrels(folder)
    backends = collection_backends(export_dir / MANIFEST_NAME)
    encoder = manager.query_encoder(*backends)  # type: ignore[attr-defined]
    results = evaluate_retrievers(ExportIndex.load(export_dir / FUSED_PARQUET), encoder,
                                  queries, qrels, parse_weights(args.convex_weights))
    if args.source == "index":  # through the engine; the rows it cannot reproduce stay the exports' (exact)
        results = {**evaluate_through_index(name, data_root, queries, qrels, parse_weights(args.convex_weights),
                                            args.exact), **{k: v for k, v in results.items() if k == DEFAULT_HYBRID}}
    judged = len([q for q in queries if q in qrels])
    table = format_table(results)
    print(table)
    cv = _cross_validate(args, export_dir / FUSED_PARQUET, encoder, queries, qrels)
    if args.report:
        _write_report(args, name, judged, results, table, cv)
    print(json.dumps({"collection": name, "queries": judged, "source": args.source,
                      "backends": {"dense": backends[0], "sparse": backends[1]},
                      **{metric: {k: round(v[metric], 4) for k, v in results.items()} for metric in METRICS},
                      "default_hybrid": _default_hybrid(), "cross_validation": cv.summary() if cv else None}))
    return 0


def _default_hybrid() -> str:
    from embed_assets.core.retrieval.evaluation import DEFAULT_FUSION

    return DEFAULT_FUSION.describe()


def _cross_validate(args: argparse.Namespace, parquet: Path, encoder: Any, queries: dict[str, str],
                    qrels: dict[str, dict[str, int]]) -> Any:
    """The cross-validated choice of hybrid (printed), or None when ``--folds 0`` or too few queries."""
    from embed_assets.core.retrieval.evaluation import cross_validate_retrievers
    from embed_assets.core.retrieval.index import ExportIndex

    judged = len([q for q in queries if q in qrels])
    if args.folds < 2 or judged < args.folds:
        return None
    print(f"cross-validating the hybrid over {args.folds} folds of {judged} queries", file=sys.stderr)
    cv = cross_validate_retrievers(ExportIndex.load(parquet), encoder, queries, qrels,
                                   folds=args.folds, convex_weights=parse_weights(args.convex_weights))
    if cv is not None:
        from .quality_report import folds_table

        print(folds_table(cv))
    return cv


def _write_report(args: argparse.Namespace, name: str, judged: int, results: dict[str, dict[str, float]],
                  table: str, cv: Any) -> None:
    from .quality_report import chart_path, quality_report, write_chart

    args.report.parent.mkdir(parents=True, exist_ok=True)
    chart = chart_path(args.report)
    write_chart(chart, results, cv)
    args.report.write_text(quality_report(name, args.beir, judged, results, table, cv, chart), "utf-8")


def index_reusable(name: str, data_root: Path, export_dir: Path) -> bool:
    """The collection's index exists and holds the latest export's points."""
    from embed_assets.core.index.target import IndexTarget
    from embed_assets.core.index.versions import IndexNotFound

    manifest = json.loads((export_dir / MANIFEST_NAME).read_text("utf-8"))
    try:
        with IndexTarget.from_settings(get_settings(), data_root).reader(name) as reader:
            return reader.store.count() == manifest["stages"]["export"]["rows"]
    except IndexNotFound:
        return False


def evaluate_through_index(name: str, data_root: Path, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                           weights: dict[str, float], exact: bool) -> dict[str, dict[str, float]]:
    from embed_assets.core.index.encoder import query_encoder
    from embed_assets.core.index.evaluation import evaluate_index
    from embed_assets.core.index.target import IndexTarget

    with IndexTarget.from_settings(get_settings(), data_root).reader(name) as reader:
        assert reader.state is not None
        return evaluate_index(reader.store, reader.state.index_schema, query_encoder(reader.state.encoding),
                              queries, qrels, weights, exact)


def format_table(results: dict[str, dict[str, float]]) -> str:
    rows = ["| method | nDCG@10 | MRR@10 | Recall@10 | Recall@100 |", "| --- | --- | --- | --- | --- |"]
    for name, m in results.items():
        rows.append(f"| {name} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} | {m['recall@10']:.4f} | "
                    f"{m['recall@100']:.4f} |")
    return "\n".join(rows)
