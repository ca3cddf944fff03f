"""``embed-collections search``: search a collection through its vector index (default) or
exactly over its exports (``--source exports``), one query or a file of them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from embed_assets.core.ingest.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.retrieval.evaluation import SEARCH_FUSIONS
from embed_assets.core.settings import get_settings
from embed_assets.core.storage.exports import FUSED_PARQUET, MANIFEST_NAME

from .console import error, non_empty_query, positive_int

MODES = ("dense", "splade", "lexical", "hybrid")
SNIPPET = 300
EPILOG = """examples:
  embed-collections search --collection ops-faq "how do I restart the worker"
  embed-collections search --collection ops-faq --show-text --top-k 3 "rotate credentials"
  embed-collections search --collection ops-faq --queries questions.txt --json > hits.jsonl
  embed-collections search --collection ops-faq --fusion rrf "restart"      # the engine's RRF, k = 60

fusions (--mode hybrid): hybrid = the product's default, chosen by cross-validation (its weights,
renormalized over the retrievers the collection has); convex = min-max convex combination with
equal footing (0.5/0.25/0.25); rrf, weighted_rrf, dbsf = the vector database's own fusions.
"""


def add_parser(sub: Any) -> None:
    se = sub.add_parser("search", help="search a collection (its vector index, or its exports)",
                        description="Search a collection: documents ranked by a retriever or a fusion, each with its "
                                    "best chunk. Chunk text is printed only with --show-text.",
                        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    se.add_argument("query", nargs="?", type=non_empty_query, help="the query (or give --queries FILE)")
    se.add_argument("--queries", type=Path, default=None, metavar="FILE",
                    help="many queries in one process (models load once): one per line, or JSON lines with "
                         "'text' (and '_id')")
    se.add_argument("--collection", required=True, help="the collection (partition) to search")
    se.add_argument("--mode", choices=MODES, default="hybrid",
                    help="one retriever, or hybrid: a fusion of those the collection has (default: hybrid)")
    se.add_argument("--fusion", choices=SEARCH_FUSIONS, default="hybrid", help="how hybrid fuses (default: hybrid)")
    se.add_argument("--weights", default=None, metavar="NAME=W,...",
                    help="fusion weights, e.g. dense=0.6,lexical=0.4 (renormalized over what is present)")
    se.add_argument("--top-k", type=positive_int, default=10, help="documents to return (default: 10)")
    se.add_argument("--show-text", action="store_true", help="print a snippet of each hit's best chunk")
    se.add_argument("--json", action="store_true", help="one JSON object per query on stdout")
    se.add_argument("--source", choices=("index", "exports"), default="index",
                    help="the vector index, or exact search over the Parquet export (default: index)")
    se.add_argument("--exact", action="store_true", help="index: brute-force dense search even over an HNSW graph")
    se.add_argument("--data-root", type=Path, default=None, help="default: $EMBED_ASSETS_DATA_ROOT or data/")
    se.add_argument("--export-root", type=Path, default=None,
                    help="default: $EMBED_ASSETS_EXPORT_ROOT or <data-root>/exports")


def collection_backends(manifest_path: Path) -> tuple[list[str | None] | None, str | None]:
    """The backends the collection was encoded with (queries must match), from its manifest."""
    from embed_assets.core.retrieval.query import recorded_backends

    if not manifest_path.is_file():
        return None, None
    return recorded_backends(json.loads(manifest_path.read_text("utf-8")))


def parse_weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def read_queries(path: Path) -> list[tuple[str, str]]:
    """(id, text) per non-empty line: plain text, or a JSON object with ``text`` (and ``_id``)."""
    out = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line) if line.lstrip().startswith("{") else {"text": line}
        out.append((str(obj.get("_id", number)), str(obj["text"])))
    return out


def _chunk_rows(parquet: Path) -> dict[str, dict[str, Any]]:
    import pyarrow.parquet as pq

    if not parquet.is_file():
        return {}
    table = pq.read_table(parquet, columns=["chunk_id", "title", "source_path", "text"])
    return {row["chunk_id"]: row for row in table.to_pylist()}


Searcher = Callable[[str], tuple[str, list[Any]]]


def _hit(hit: Any, rows: dict[str, dict[str, Any]], show_text: bool) -> dict[str, Any]:
    row = rows.get(hit.chunk_id, {})
    out = {"rank": hit.rank, "doc_id": hit.doc_id, "score": round(float(hit.score), 6), "chunk_id": hit.chunk_id,
           "title": getattr(hit, "title", None) or row.get("title"),
           "source_path": getattr(hit, "source_path", None) or row.get("source_path")}
    if show_text:
        out["text"] = (getattr(hit, "text", None) or row.get("text") or "").replace("\n", " ")[:SNIPPET]
    return out


def _print(header: str, explanation: str, hits: list[dict[str, Any]]) -> None:
    print(header)
    print(f"     score = {explanation}")
    for h in hits:
        title = f"  {h['title']}" if h.get("title") else ""
        print(f"{h['rank']:>3}. {h['score']:.4f}  {h['doc_id']}{title}")
        if "text" in h:
            print(f"     {h['text']}")


def _index_searcher(args: argparse.Namespace) -> Iterator[Searcher]:
    from embed_assets.core.index.api import Index
    from embed_assets.core.index.target import IndexTarget

    target = IndexTarget.from_settings(get_settings(), args.data_root.resolve() if args.data_root else None)
    with Index(target.reader(args.collection), args.collection) as index:
        index.members(args.mode)  # raises ValueError before any model loads

        def search(query: str) -> tuple[str, list[Any]]:
            result = index.query(query, k=args.top_k, mode=args.mode, fusion=args.fusion,
                                 weights=parse_weights(args.weights), exact=args.exact, with_text=args.show_text)
            return result.explanation, result.hits

        yield search
        print(f"({target.backend} index version {index.state.index_version})", file=sys.stderr)


def _exports_searcher(args: argparse.Namespace, data_root: Path, parquet: Path) -> Iterator[Searcher]:
    from embed_assets.core.retrieval.index import ExportIndex
    from embed_assets.core.retrieval.search import search_export, search_members
    from embed_assets.defs.definitions import build_resources

    index = ExportIndex.load(parquet)
    search_members(index, args.mode)  # raises ValueError before any model loads
    manager = build_resources(data_root=data_root)["model_manager"]
    encoder = manager.query_encoder(*collection_backends(parquet.parent / MANIFEST_NAME))  # type: ignore[attr-defined]

    def search(query: str) -> tuple[str, list[Any]]:
        result = search_export(index, encoder, query, args.mode, args.top_k, args.fusion, parse_weights(args.weights))
        return result.explanation, result.hits

    yield search


def main(args: argparse.Namespace) -> int:
    try:
        validate_collection_name(args.collection)
        queries = read_queries(args.queries) if args.queries else [("1", args.query)] if args.query else []
    except (UnsafeCollectionName, OSError, ValueError, KeyError) as exc:
        error(str(exc) if not isinstance(exc, KeyError) else "each JSON query line needs a 'text' field")
        return 2
    if not queries:
        error("give a query, or --queries FILE")
        return 2
    data_root = (args.data_root or get_settings().resolved_data_root).resolve()
    parquet = (args.export_root or get_settings().export_root_for(data_root)).resolve() / args.collection / FUSED_PARQUET
    if not parquet.is_file():
        error(f"no exports for {args.collection} at {parquet.parent}; run embed-collections run first")
        return 2
    return _run(args, queries, data_root, parquet)


def _run(args: argparse.Namespace, queries: list[tuple[str, str]], data_root: Path, parquet: Path) -> int:
    from embed_assets.core.index.versions import IndexNotFound

    rows = _chunk_rows(parquet)
    searchers = _index_searcher(args) if args.source == "index" else _exports_searcher(args, data_root, parquet)
    try:
        search = next(searchers)
        for query_id, text in queries:
            explanation, hits = search(text)
            shown = [_hit(h, rows, args.show_text) for h in hits]
            if args.json:
                print(json.dumps({"query_id": query_id, "collection": args.collection, "mode": args.mode,
                                  "fusion": args.fusion if args.mode == "hybrid" else None, "source": args.source,
                                  "explanation": explanation, "hits": shown}, ensure_ascii=False))
            else:
                _print(f"{args.mode} search in {args.collection} ({args.source}), query {query_id}:", explanation,
                       shown)
        next(searchers, None)  # closes the index
    except IndexNotFound:
        error(f"no vector index of {args.collection} yet; run embed-collections run first "
              "(or search the exports with --source exports)")
        return 2
    except ValueError as exc:
        error(str(exc))
        return 2
    return 0
