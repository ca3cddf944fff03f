"""``vector_index``: the published export in the vector index — the embedded engine by
default, a Qdrant server by URL — updated incrementally and switched atomically."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.index.sync import index_published_export, result_table, summary_row
from embed_assets.core.storage.publish import ExportPublisher

from ..metadata import index_metadata
from ..resources import PathsResource, VectorIndexResource
from .common import asset_options, collection_of, progress, traced


@dg.asset(**asset_options(kinds={"qdrant"}, description=(
    "The collection in the vector index: named vectors dense, splade and lexical, upserted where new or changed, "
    "deleted where gone, and switched atomically to the new version.")))
@traced("vector_index")
def vector_index(context: dg.AssetExecutionContext, processing_summary: pa.Table, paths: PathsResource,
                 index: VectorIndexResource) -> dg.Output[pa.Table]:
    collection = collection_of(context)
    export_version, manifest = summary_row(processing_summary)
    folder = ExportPublisher(paths.exports, collection).history / export_version
    try:
        result = index_published_export(index.target(), collection, folder, manifest, with_text=index.store_text)
    except (OSError, ValueError, RuntimeError) as exc:  # store, lock and export errors: the served index stays
        raise dg.Failure(f"indexing {collection} failed; the previous index version stays served: "
                         f"{type(exc).__name__}: {exc}") from exc
    progress(context, f"index: {result.backend} {result.collection_name} version {result.index_version}: "
                      f"{result.points} points, {result.upserted} upserted, {result.deleted} deleted "
                      f"({'unchanged' if result.unchanged else result.base}; {result.search} search)")
    return dg.Output(result_table(result), metadata=index_metadata(result))
