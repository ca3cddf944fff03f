"""Vector index figures on a published export: build time, upsert rate and query latency,
the embedded engine against the client's local mode.

    python -m embed_assets.bench.index --export data/exports/python-docstrings --queries QUERIES.jsonl

Query vectors are encoded once (the models the index records); only the store calls are
timed. It prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from embed_assets.core.index.encoder import query_encoder
from embed_assets.core.index.points import ExportRows
from embed_assets.core.index.search import DEPTH, encode_queries, engine_fusion, fused, per_vector_docs, single
from embed_assets.core.index.state import QueryEncoding
from embed_assets.core.index.store import IndexSchema, VectorQuery, VectorStore
from embed_assets.core.index.sync import read_export, sync_index
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.ingest.beir import read_queries


def _ms(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2)}


def _timed(calls: Sequence[Callable[[], Any]]) -> dict[str, float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return _ms(samples)


def query_latencies(store: VectorStore, encoded: Sequence[dict[str, VectorQuery]], members: Sequence[str],
                    top_k: int = 10) -> dict[str, dict[str, float]]:
    """p50/p95 of one query of each kind: single vectors, the engine's RRF, and the
    document-level convex hybrid (one ranking per member, depth 100)."""
    out = {m: _timed([lambda q=q, m=m: store.query(single(q[m], top_k, False)) for q in encoded]) for m in members}
    if len(members) > 1:
        rrf = engine_fusion("rrf", members)
        out["engine rrf"] = _timed([lambda q=q: store.query(fused(q, members, rrf, top_k, False)) for q in encoded])
        out["convex (docs)"] = _timed([lambda q=q: per_vector_docs(store, [q], members, DEPTH) for q in encoded])
    return out


def _upsert_rate(target: IndexTarget, table: pa.Table, manifest: dict[str, Any]) -> float:
    """Points per second of the build's upserts alone (fresh store, batches of 256)."""
    schema = IndexSchema.from_manifest(manifest)
    rows = ExportRows(table, schema, with_text=False)
    fingerprints = rows.fingerprints()
    batches = list(rows.batches(rows.point_ids, fingerprints, "bench"))
    with target.publisher("upsert") as publisher:
        prepared = publisher.prepare(schema, publisher.next_version())
        started = time.perf_counter()
        for batch in batches:
            prepared.store.upsert(batch)
        elapsed = time.perf_counter() - started
        publisher.abandon(prepared)
    return len(rows) / elapsed


def measure(target: IndexTarget, folder: Path, queries: list[str], n_queries: int) -> dict[str, Any]:
    manifest = json.loads((folder / "processing_summary.json").read_text("utf-8"))
    table = read_export(folder, manifest)
    started = time.perf_counter()
    build = sync_index(target, "bench", table, manifest, folder.name)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    sync_index(target, "bench", table, manifest, folder.name)
    unchanged_s = time.perf_counter() - started
    result: dict[str, Any] = {"backend": target.backend, "points": build.points, "build_s": round(build_s, 2),
                              "unchanged_s": round(unchanged_s, 3),
                              "upsert_points_per_s": round(_upsert_rate(target, table, manifest))}
    encoding = QueryEncoding.from_manifest(manifest)
    members = list(IndexSchema.from_manifest(manifest).vectors)
    encoded = encode_queries(query_encoder(encoding), queries[:n_queries], members)
    with target.reader("bench") as reader:
        result["queries"] = query_latencies(reader.store, encoded, members)
    return result


def table(results: list[dict[str, Any]]) -> str:
    kinds = list(results[0]["queries"])
    lines = ["| | " + " | ".join(r["backend"] for r in results) + " |", "| --- |" + " --- |" * len(results)]
    lines.append("| points | " + " | ".join(str(r["points"]) for r in results) + " |")
    lines.append("| build (s) | " + " | ".join(str(r["build_s"]) for r in results) + " |")
    lines.append("| unchanged re-run (s) | " + " | ".join(str(r["unchanged_s"]) for r in results) + " |")
    lines.append("| upsert (points/s) | " + " | ".join(str(r["upsert_points_per_s"]) for r in results) + " |")
    for kind in kinds:
        lines.append(f"| {kind} p50 / p95 (ms) | " + " | ".join(
            f"{r['queries'][kind]['p50_ms']} / {r['queries'][kind]['p95_ms']}" for r in results) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--export", type=Path, required=True, help="a published export folder")
    parser.add_argument("--queries", type=Path, required=True, help="a folder with queries.jsonl (BEIR)")
    parser.add_argument("--n-queries", type=int, default=200)
    parser.add_argument("--local-queries", type=int, default=30, help="fewer for the (slow) local mode")
    args = parser.parse_args(argv)
    queries = list(read_queries(args.queries).values())
    np.random.default_rng(0).shuffle(queries)
    folder = args.export.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        edge = measure(IndexTarget(root=Path(tmp) / "edge"), folder, queries, args.n_queries)
        local = measure(IndexTarget(root=Path(tmp) / "lock", url=f"file://{tmp}/local"), folder, queries,
                        args.local_queries)
    print(table([edge, local]))
    print(json.dumps({"edge": edge, "local": local}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
