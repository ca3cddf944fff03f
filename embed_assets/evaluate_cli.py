"""``embed-collections eval`` and ``embed-collections search``: retrieval over exports."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from embed_assets.core import settings
from embed_assets.core.beir import QRELS, QUERIES, read_qrels, read_queries
from embed_assets.core.documents import CORPUS_FILENAME, fingerprint_collection
from embed_assets.core.names import UnsafeCollectionName, validate_collection_name

METRICS = ("ndcg@10", "mrr@10", "recall@10", "recall@100")


def add_parsers(sub: Any) -> None:
    ev = sub.add_parser("eval", help="evaluate retrieval on a labelled BEIR folder")
    ev.add_argument("--beir", type=Path, required=True, help="folder with corpus.jsonl, queries.jsonl, qrels/test.tsv")
    ev.add_argument("--collection", default=None, help="collection name (default: the folder's name)")
    ev.add_argument("--data-root", type=Path, default=None)
    ev.add_argument("--convex-weights", default="dense=0.5,splade=0.25,lexical=0.25",
                    help="weights of the convex combination, e.g. dense=0.6,lexical=0.4")
    ev.add_argument("--report", type=Path, default=None, help="also write the figures as markdown here")
    se = sub.add_parser("search", help="search a collection's exports")
    se.add_argument("query")
    se.add_argument("--collection", required=True)
    se.add_argument("--mode", choices=["dense", "splade", "lexical", "hybrid"], default="hybrid")
    se.add_argument("--top-k", type=int, default=10)
    se.add_argument("--show-text", action="store_true", help="print the best chunk's text (off by default)")
    se.add_argument("--data-root", type=Path, default=None)
    se.add_argument("--export-root", type=Path, default=None)


def _weights(text: str) -> dict[str, float]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def _same_file(a: Path, b: Path) -> bool:
    return b.is_file() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def _install_beir(source: Path, target: Path) -> bool:
    """Copy the BEIR files into the collection folder; True when anything changed."""
    changed = False
    target.mkdir(parents=True, exist_ok=True)
    for rel in (Path(CORPUS_FILENAME), Path(QUERIES), QRELS):
        src, dst = source / rel, target / rel
        if not src.is_file():
            raise FileNotFoundError(f"{src} is missing: a BEIR folder needs {CORPUS_FILENAME}, {QUERIES} and {QRELS}")
        if not _same_file(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
            changed = True
    return changed


def run_eval(args: argparse.Namespace) -> int:
    from embed_assets.core.evaluation import evaluate_retrievers
    from embed_assets.core.retrieval import ExportIndex
    from embed_assets.defs.definitions import JOB_NAME, build_definitions, build_resources
    from embed_assets.defs.partitions import COLLECTIONS

    from .cli import _instance

    name = args.collection or args.beir.resolve().name
    try:
        validate_collection_name(name)
    except UnsafeCollectionName as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_root = (args.data_root or settings.data_root()).resolve()
    folder = settings.collections_dir(data_root) / name
    _install_beir(args.beir, folder)
    export_dir = settings.export_root(data_root) / name
    manifest_path = export_dir / "processing_summary.json"
    resources = build_resources(data_root=data_root)
    manager = resources["model_manager"]
    reuse = False
    if manifest_path.is_file():
        m = json.loads(manifest_path.read_text("utf-8"))
        reuse = (m.get("stages", {}).get("chunks", {}).get("inputs_sha256") == fingerprint_collection(folder)
                 and m.get("activation", {}).get("features", {}).get("lexical") is True
                 and m["activation"]["sparse_model"] == manager.sparse_model  # type: ignore[attr-defined]
                 and [x["name"] for x in m["stages"]["dense"]["models"]] == [d.ref for d in manager.dense_models])  # type: ignore[attr-defined]
    if reuse:
        print(f"{name}: corpus and settings unchanged; using the latest materialization", file=sys.stderr)
    else:
        print(f"{name}: materializing (dense, SPLADE and lexical vectors)", file=sys.stderr)
        instance = _instance()
        if not instance.has_dynamic_partition(COLLECTIONS, name):
            instance.add_dynamic_partitions(COLLECTIONS, [name])
        job = build_definitions(data_root=data_root).resolve_job_def(JOB_NAME)
        result = job.execute_in_process(
            partition_key=name, instance=instance, raise_on_error=False, tags={"embed_assets/sparse_cli": "enable"},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}},
                        "ops": {"sparse_vectors": {"config": {"enable_lexical": True}}}})
        if not result.success or not manifest_path.is_file():
            print(f"error: materializing {name} failed; see the run {result.run_id} in the Dagster UI", file=sys.stderr)
            return 1
    queries, qrels = read_queries(folder), read_qrels(folder)
    index = ExportIndex.load(export_dir / "fused_vectors.parquet")
    results = evaluate_retrievers(index, manager.query_encoder(), queries, qrels,  # type: ignore[attr-defined]
                                  _weights(args.convex_weights))
    judged = len([q for q in queries if q in qrels])
    table = format_table(results)
    print(table)
    line = {"collection": name, "queries": judged, **{metric: {k: round(v[metric], 4) for k, v in results.items()}
                                                       for metric in METRICS}}
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(quality_report(name, args.beir, judged, results, table), "utf-8")
    print(json.dumps(line))
    return 0


def format_table(results: dict[str, dict[str, float]]) -> str:
    rows = ["| method | nDCG@10 | MRR@10 | Recall@10 | Recall@100 |", "| --- | --- | --- | --- | --- |"]
    for name, m in results.items():
        rows.append(f"| {name} | {m['ndcg@10']:.4f} | {m['mrr@10']:.4f} | {m['recall@10']:.4f} | "
                    f"{m['recall@100']:.4f} |")
    return "\n".join(rows)


def run_search(args: argparse.Namespace) -> int:
    import numpy as np
    import pyarrow.parquet as pq

    from embed_assets.core.evaluation import DEFAULT_CONVEX_WEIGHTS, hybrid_members
    from embed_assets.core.metrics import rank
    from embed_assets.core.retrieval import ExportIndex, fuse
    from embed_assets.defs.definitions import build_resources

    try:
        validate_collection_name(args.collection)
    except UnsafeCollectionName as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data_root = (args.data_root or settings.data_root()).resolve()
    export_root = (args.export_root or settings.export_root(data_root)).resolve()
    parquet = export_root / args.collection / "fused_vectors.parquet"
    if not parquet.is_file():
        print(f"error: no exports for {args.collection} under {export_root}; run embed-collections run first",
              file=sys.stderr)
        return 2
    index = ExportIndex.load(parquet)
    if args.mode == "hybrid":
        method, members = hybrid_members(index.available())
    else:
        if args.mode not in index.available():
            print(f"error: the export has no {args.mode} vectors (available: {', '.join(index.available())})",
                  file=sys.stderr)
            return 2
        method, members = "single", (args.mode,)
    encoder = build_resources(data_root=data_root)["model_manager"].query_encoder()  # type: ignore[attr-defined]
    chunk_scores = {m: index.chunk_scores(m, encoder.encode(m, [args.query]))[0] for m in members}
    per = {m: index.doc_scores(scores[None, :], depth=max(100, args.top_k)) for m, scores in chunk_scores.items()}
    scores = (per[members[0]][0] if method == "single" or len(members) == 1
              else fuse(per, method, members, DEFAULT_CONVEX_WEIGHTS)[0])
    top = rank(scores, args.top_k)
    texts = pq.read_table(parquet, columns=["text"]).column("text").to_pylist() if args.show_text else None
    lead = chunk_scores[members[0]]
    print(f"{args.mode} search in {args.collection} ({' + '.join(members)}):")
    for i, doc in enumerate(top, start=1):
        rows = np.flatnonzero(index.doc_ids == doc)
        best = int(rows[np.argmax(lead[rows])])
        print(f"{i:>3}. {scores[doc]:.4f}  {doc}  chunk {index.chunk_ids[best]}")
        if texts is not None:
            print("     " + texts[best].replace("\n", " ")[:500])
    return 0


def quality_report(name: str, beir: Path, judged: int, results: dict[str, dict[str, float]], table: str) -> str:
    """The markdown of docs/retrieval-quality.md: source, figures and the fusion choice."""
    import datetime as dt

    from embed_assets.core.evaluation import DEFAULT_CONVEX_WEIGHTS, DEFAULT_HYBRID, FUSIONS

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
