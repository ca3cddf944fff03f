"""Dagster metadata for typed lineage: column schemas, column lineage, each stage's
figures, and the models and settings behind a partition, as tables and markdown in the UI."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pyarrow as pa

from embed_assets.core.index.sync import IndexSyncResult
from embed_assets.core.manifest.envelopes import ChunksEnvelope, DenseEnvelope, FusionEnvelope, SparseEnvelope

COLUMN_DESCRIPTIONS = {
    "chunk_id": "Stable id: same text in the same place of the same document, same id.",
    "doc_id": "Document id (relative path, or the BEIR _id).",
    "collection": "Collection (partition key).",
    "ordinal": "Position of the chunk in its document.",
    "text": "Chunk text.",
    "token_count": "Tokens of the dense model's tokenizer, without special tokens.",
    "content_hash": "sha256 of the chunk text.",
    "source_path": "Source file, relative to the collection folder.",
    "title": "Document title (markdown H1, BEIR title or file name).",
    "headings": "Markdown heading path at the chunk's start.",
    "char_start": "Start offset in the document text.",
    "char_end": "End offset in the document text.",
    "dense": "Ensemble vector: L2-normalized, weighted concatenation of the models' vectors.",
    "sparse_indices": "Token ids (sparse model vocabulary) with non-zero weight.",
    "sparse_values": "Weights of sparse_indices.",
    "sparse_source": "Which source produced the sparse vector: model-gpu, model-cpu or metadata.",
    "lexical_indices": "Token ids of the lexical (BM25-style) vector, same vocabulary as SPLADE.",
    "lexical_values": "BM25-saturated term weights times collection IDF.",
    "sparse_norm": "L2 norm of the sparse vector (the hybrid form divides by it).",
    "fusion_mode": "hybrid, or dense_only when sparse was disabled.",
    "fusion_alpha": "Dense weight α of the vector-level fusion.",
    "dense_scale": "√α: multiply the dense vector by it for the hybrid form.",
    "sparse_scale": "√(1-α)/‖s‖ is applied to sparse values for the hybrid form.",
    "manifest_json": "The processing manifest (processing_summary.json).",
    "schema_version": "Manifest schema version: 4.0 dense-only, 4.1 with the sparse sections.",
    "manifest_sha256": "sha256 of manifest_json.",
    "export_version": "The published export version folder under <export-root>/.history/<collection>/.",
}
MIB = 1024**2
GIB = 1024**3


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    def description(name: str) -> str:
        if name.startswith("dense__"):
            return f"L2-normalized vector of model {name.removeprefix('dense__')}."
        return COLUMN_DESCRIPTIONS.get(name, "")

    return dg.TableSchema(columns=[
        dg.TableColumn(name=f.name, type=str(f.type), description=description(f.name),
                       constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema
    ])


def table_metadata(table: pa.Table) -> dict[str, Any]:
    return {"dagster/column_schema": column_schema(table.schema), "dagster/row_count": table.num_rows}


def fused_column_lineage(columns: list[str]) -> dg.TableColumnLineage:
    chunks, dense, sparse = dg.AssetKey("chunks"), dg.AssetKey("dense_embeddings"), dg.AssetKey("sparse_vectors")
    deps: dict[str, list[dg.TableColumnDep]] = {}
    for name in columns:
        if name == "dense":
            deps[name] = [dg.TableColumnDep(asset_key=dense, column_name="dense")]
        elif name in ("sparse_indices", "sparse_values", "sparse_source", "lexical_indices", "lexical_values"):
            deps[name] = [dg.TableColumnDep(asset_key=sparse, column_name=name)]
        elif name == "sparse_norm":
            deps[name] = [dg.TableColumnDep(asset_key=sparse, column_name="sparse_values")]
        elif name in COLUMN_DESCRIPTIONS and name not in ("fusion_mode", "fusion_alpha", "dense_scale", "sparse_scale"):
            deps[name] = [dg.TableColumnDep(asset_key=chunks, column_name=name)]
    return dg.TableColumnLineage(deps_by_column=deps)


def models_table(manifest: dict[str, Any]) -> dg.MetadataValue:
    rows = [
        dg.TableRecord({"stage": "dense", "key": m["key"], "model": m["name"], "source": m["source"],
                        "dim": m["dim"], "max_seq_length": m["max_seq_length"], "weight": m["weight"],
                        "weights_sha256": m["weights_sha256"][:16]})
        for m in manifest["stages"]["dense"]["models"]
    ]
    sparse = manifest.get("stages", {}).get("sparse", {}).get("model")
    if sparse:
        rows.append(dg.TableRecord({"stage": "sparse", "key": "sparse", "model": sparse["name"],
                                    "source": sparse["source"], "dim": sparse["dim"],
                                    "max_seq_length": sparse["max_seq_length"], "weight": 1.0,
                                    "weights_sha256": sparse["weights_sha256"][:16]}))
    schema = dg.TableSchema(columns=[
        dg.TableColumn("stage", "string"), dg.TableColumn("key", "string"), dg.TableColumn("model", "string"),
        dg.TableColumn("source", "string"), dg.TableColumn("dim", "int"), dg.TableColumn("max_seq_length", "int"),
        dg.TableColumn("weight", "float"), dg.TableColumn("weights_sha256", "string"),
    ])
    return dg.MetadataValue.table(records=rows, schema=schema)


def settings_markdown(manifest: dict[str, Any]) -> dg.MetadataValue:
    st = manifest["stages"]
    act = manifest["activation"]["sparse"]
    perf = manifest["performance"]
    lines = [
        "| setting | value |\n| --- | --- |",
        f"| manifest | {manifest['schema_version']} |",
        f"| sparse | {'on' if act['enabled'] else 'off'} (decided by {act['decided_by']}) |",
        f"| chunking | {st['chunks']['chunk_tokens']} tokens, overlap {st['chunks']['overlap_tokens']}, "
        f"limit {st['chunks']['max_tokens']} |",
        f"| dense | {st['dense']['aggregation']}, {st['dense']['dim']} dims, batch {st['dense']['batch_size']} "
        f"(min {st['dense']['min_batch_size']}) on {', '.join(st['dense']['devices'])} |",
        f"| fusion | {st['fusion']['mode']}, α={st['fusion']['alpha']}, RRF k={st['fusion']['rrf_k']} |",
        f"| VRAM | peak {perf['peak_vram_bytes'] / GIB:.2f} GiB; soft limit "
        f"{perf['vram_budget']['soft_limit_bytes'] / GIB:.1f} GiB {'EXCEEDED' if perf['soft_limit_exceeded'] else 'kept'}; "
        f"hard cap {perf['vram_budget']['hard_cap_bytes'] / GIB:.1f} GiB |",
    ]
    if "sparse" in st:
        sp = st["sparse"]
        lines.insert(4, f"| sparse model | {sp['sparse_model']}, batch {sp['batch_size']} (min {sp['min_batch_size']}) "
                        f"on {', '.join(sp['devices'])}; sources {sp['source_counts']} |")
    return dg.MetadataValue.md("\n".join(lines))


def counts_table(counts: dict[str, Any], key: str, value: str, key_description: str = "",
                 value_description: str = "") -> dg.MetadataValue:
    """A flat mapping as a two-column table (the UI shows it as one; JSON would be text)."""
    numeric = all(isinstance(v, (int, float)) for v in counts.values())
    kind = ("int" if all(isinstance(v, int) for v in counts.values()) else "float") if numeric else "string"
    schema = dg.TableSchema(columns=[dg.TableColumn(key, "string", description=key_description),
                                     dg.TableColumn(value, kind, description=value_description)])
    return dg.MetadataValue.table(records=[dg.TableRecord({key: str(k), value: v if numeric else str(v)})
                                           for k, v in counts.items()], schema=schema)


def rate(count: int, latency_ms: float) -> float:
    return count / (latency_ms / 1000.0) if latency_ms else 0.0


def chunks_metadata(table: pa.Table, envelope: ChunksEnvelope) -> dict[str, Any]:
    docs = envelope.stage.documents
    return {**table_metadata(table), "documents_seen": docs.seen, "documents_embedded": docs.embedded,
            "documents_skipped": docs.skipped,
            "skipped_by_reason": counts_table(docs.skipped_by_reason, "reason", "documents", "Why they were skipped."),
            "tokens_total": envelope.stage.tokens_total, "latency_ms": round(envelope.stage.latency_ms, 1)}


def dense_metadata(table: pa.Table, envelope: DenseEnvelope) -> dict[str, Any]:
    st = envelope.stage
    return {**table_metadata(table), "dim": st.dim, "models": ", ".join(m.key for m in st.models),
            "devices": ", ".join(st.devices), "chunks_per_s": round(rate(st.count, st.latency_ms), 2),
            "latency_ms": round(st.latency_ms, 1), "batch_size_min": st.min_batch_size, "oom_retries": st.oom_retries,
            "peak_vram_mib": round(envelope.peak_vram_bytes / MIB, 1), "encoded": st.encoded,
            "unique_chunks": st.unique_chunks, "shards": st.shards}


def sparse_metadata(table: pa.Table, envelope: SparseEnvelope) -> dict[str, Any]:
    common = {**table_metadata(table), "enabled": envelope.enabled, "decided_by": envelope.decision.decided_by}
    st = envelope.stage
    if not envelope.enabled or st is None:
        return common
    return {**common, "fallback_used": st.fallback_used,
            "source_counts": counts_table(st.source_counts, "source", "chunks", "What produced the vector."),
            "coverage": round(st.coverage, 4), "mean_nnz": round(st.mean_nnz, 1),
            "chunks_per_s": round(rate(st.count, st.latency_ms), 2), "latency_ms": round(st.latency_ms, 1),
            "oom_retries": st.oom_retries, "shards": st.shards}


def fused_metadata(table: pa.Table, envelope: FusionEnvelope) -> dict[str, Any]:
    return {**table_metadata(table), "mode": envelope.stage.mode, "alpha": envelope.stage.alpha,
            "dagster/column_lineage": fused_column_lineage(table.column_names)}


FOLDER_STATE_KEY = "inputs_folder_state"


def summary_metadata(table: pa.Table, manifest: dict[str, Any], export_dir: str, export_version: str,
                     folder_state: str) -> dict[str, Any]:
    chunks = manifest["stages"]["chunks"]
    sparse = manifest["activation"]["sparse"]
    return {
        **table_metadata(table), "schema_version": manifest["schema_version"], "models": models_table(manifest),
        FOLDER_STATE_KEY: folder_state,
        "settings": settings_markdown(manifest), "export_dir": dg.MetadataValue.path(export_dir),
        "export_version": export_version, "documents_seen": chunks["documents"]["seen"],
        "documents_skipped": chunks["documents"]["skipped"], "chunks": chunks["count"],
        "sparse": f"{'on' if sparse['enabled'] else 'off'} (decided by {sparse['decided_by']})",
        "total_wall_ms": round(manifest["performance"]["total_wall_ms"], 1),
    }


def index_column_schema(result: IndexSyncResult) -> dg.TableSchema:
    """What every point of the index holds: its id, named vectors and payload fields."""
    schema = result.index_schema
    columns = [dg.TableColumn("id", "uuid", description="uuid5 of chunk_id (the engines take UUIDs or integers)."),
               dg.TableColumn("dense", f"float32[{schema.dense_size}] cosine", description=COLUMN_DESCRIPTIONS["dense"])]
    columns += [dg.TableColumn(name, "sparse", description=COLUMN_DESCRIPTIONS[f"{prefix}_values"])
                for name, prefix in (("splade", "sparse"), ("lexical", "lexical")) if name in schema.sparse]
    payload = ["chunk_id", "doc_id", "title", "source_path", "ordinal", *(["text"] if result.with_text else [])]
    columns += [dg.TableColumn(name, "payload", description=COLUMN_DESCRIPTIONS[name]) for name in payload]
    columns += [dg.TableColumn("export_version", "payload", description="The export the point was last written from."),
                dg.TableColumn("fingerprint", "payload", description="sha256 of the point's vectors and payload.")]
    return dg.TableSchema(columns=columns)


def index_metadata(result: IndexSyncResult) -> dict[str, Any]:
    """What an index run did; ``location`` never carries credentials."""
    return {"dagster/row_count": result.points, "dagster/column_schema": index_column_schema(result),
            "backend": result.backend, "location": result.location, "collection_name": result.collection_name,
            "points": result.points, "upserted": result.upserted, "deleted": result.deleted,
            "latency_ms": round(result.latency_ms, 1), "index_version": result.index_version,
            "physical": result.physical, "export_version": result.export_version, "written": result.written,
            "base": result.base, "unchanged": result.unchanged, "search": result.search,
            "optimized": result.optimized}
