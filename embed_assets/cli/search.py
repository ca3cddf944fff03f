"""``embed-collections search``: search a collection through its vector index (default) or
exactly over its exports (``--source exports``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from embed_assets.core.ingest.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.settings import get_settings
from embed_assets.core.storage.exports import FUSED_PARQUET

from .console import error

MODES = ("dense", "splade", "lexical", "hybrid")
FUSIONS = ("convex", "rrf", "weighted_rrf", "dbsf")


def add_parser(sub: Any) -> None:
    se = sub.add_parser("search", help="search a collection (its vector index, or its exports)")
    se.add_argument("query")
    se.add_argument("--collection", required=True)
    se.add_argument("--mode", choices=MODES, default="hybrid")
    se.add_argument("--top-k", type=int, default=10)
    se.add_argument("--show-text", action="store_true", help="print the best chunk's text (off by default)")
    se.add_argument("--source", choices=("index", "exports"), default="index",
                    help="the vector index (default) or exact search over the Parquet export")
    se.add_argument("--fusion", choices=FUSIONS, default="convex",
                    help="hybrid only: convex (default), or the engine's rrf (k=60), weighted_rrf or dbsf")
    se.add_argument("--weights", default=None, help="convex and weighted_rrf weights, e.g. dense=0.5,splade=0.25")
    se.add_argument("--exact", action="store_true", help="brute-force dense search even where an HNSW graph exists")
    se.add_argument("--data-root", type=Path, default=None)
    se.add_argument("--export-root", type=Path, default=None)


def parse_weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        out[name.strip()] = float(value)
    return out


def _export_texts(parquet: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    if not parquet.is_file():
        return {}
    table = pq.read_table(parquet, columns=["chunk_id", "text"])
    return dict(zip(table.column("chunk_id").to_pylist(), table.column("text").to_pylist()))


def _print_hits(header: str, hits: list[Any], texts: dict[str, str] | None) -> None:
    print(header)
    for hit in hits:
        print(f"{hit.rank:>3}. {hit.score:.4f}  {hit.doc_id}  chunk {hit.chunk_id}")
        if texts is not None:
            text = getattr(hit, "text", None) or texts.get(hit.chunk_id, "")
            print("     " + text.replace("\n", " ")[:500])


def search_index_command(args: argparse.Namespace, data_root: Path, parquet: Path) -> int:
    from embed_assets.core.index.api import Index
    from embed_assets.core.index.target import IndexTarget
    from embed_assets.core.index.versions import IndexNotFound

    target = IndexTarget.from_settings(get_settings(), args.data_root.resolve() if args.data_root else None)
    try:
        index = Index(target.reader(args.collection), args.collection)
    except IndexNotFound:
        error(f"no vector index of {args.collection} at {target.location}; run embed-collections run first "
              "(or search the exports with --source exports)")
        return 2
    with index:
        try:
            members = index.members(args.mode)
            hits = index.search(args.query, k=args.top_k, mode=args.mode, fusion=args.fusion,
                                weights=parse_weights(args.weights), exact=args.exact, with_text=args.show_text)
        except ValueError as exc:
            error(str(exc))
            return 2
        fusion = f", {args.fusion}" if len(members) > 1 else ""
        header = (f"{args.mode} search in {args.collection} ({' + '.join(members)}{fusion}; "
                  f"{target.backend} index version {index.state.index_version})")
    _print_hits(header, hits, _export_texts(parquet) if args.show_text else None)
    return 0


def search_exports_command(args: argparse.Namespace, data_root: Path, parquet: Path) -> int:
    from embed_assets.core.retrieval.index import ExportIndex
    from embed_assets.core.retrieval.search import search_export, search_members
    from embed_assets.defs.definitions import build_resources

    if not parquet.is_file():
        error(f"no exports for {args.collection} at {parquet.parent}; run embed-collections run first")
        return 2
    index = ExportIndex.load(parquet)
    try:
        search_members(index, args.mode)
    except ValueError as exc:
        error(str(exc))
        return 2
    encoder = build_resources(data_root=data_root)["model_manager"].query_encoder()  # type: ignore[attr-defined]
    result = search_export(index, encoder, args.query, args.mode, args.top_k)
    texts = _export_texts(parquet) if args.show_text else None
    _print_hits(f"{args.mode} search in {args.collection} ({' + '.join(result.members)}; exact, exports):",
                result.hits, texts)
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        validate_collection_name(args.collection)
    except UnsafeCollectionName as exc:
        error(str(exc))
        return 2
    data_root = (args.data_root or get_settings().resolved_data_root).resolve()
    export_root = (args.export_root or data_root / "exports").resolve()
    parquet = export_root / args.collection / FUSED_PARQUET
    command = search_index_command if args.source == "index" else search_exports_command
    return command(args, data_root, parquet)
