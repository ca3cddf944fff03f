"""``embed-collections search``: search a collection's exports."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from embed_assets.core.ingest.names import UnsafeCollectionName, validate_collection_name
from embed_assets.core.settings import get_settings
from embed_assets.core.storage.exports import FUSED_PARQUET

from .console import error, non_empty_query, positive_int

MODES = ("dense", "splade", "lexical", "hybrid")


def add_parser(sub: Any) -> None:
    se = sub.add_parser("search", help="search a collection's exports")
    se.add_argument("query", type=non_empty_query)
    se.add_argument("--collection", required=True)
    se.add_argument("--mode", choices=MODES, default="hybrid")
    se.add_argument("--top-k", type=positive_int, default=10)
    se.add_argument("--show-text", action="store_true", help="print the best chunk's text (off by default)")
    se.add_argument("--data-root", type=Path, default=None)
    se.add_argument("--export-root", type=Path, default=None)


def main(args: argparse.Namespace) -> int:
    import pyarrow.parquet as pq

    from embed_assets.core.retrieval.index import ExportIndex
    from embed_assets.core.retrieval.search import search_export, search_members
    from embed_assets.defs.definitions import build_resources

    try:
        validate_collection_name(args.collection)
    except UnsafeCollectionName as exc:
        error(str(exc))
        return 2
    data_root = (args.data_root or get_settings().resolved_data_root).resolve()
    export_root = (args.export_root or get_settings().export_root_for(data_root)).resolve()
    parquet = export_root / args.collection / FUSED_PARQUET
    if not parquet.is_file():
        error(f"no exports for {args.collection} under {export_root}; run embed-collections run first")
        return 2
    index = ExportIndex.load(parquet)
    try:
        search_members(index, args.mode)
    except ValueError as exc:
        error(str(exc))
        return 2
    encoder = build_resources(data_root=data_root)["model_manager"].query_encoder()  # type: ignore[attr-defined]
    result = search_export(index, encoder, args.query, args.mode, args.top_k)
    texts = pq.read_table(parquet, columns=["text"]).column("text").to_pylist() if args.show_text else None
    print(f"{args.mode} search in {args.collection} ({' + '.join(result.members)}):")
    for hit in result.hits:
        print(f"{hit.rank:>3}. {hit.score:.4f}  {hit.doc_id}  chunk {hit.chunk_id}")
        if texts is not None:
            print("     " + texts[hit.row].replace("\n", " ")[:500])
    return 0
