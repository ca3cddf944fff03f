"""Documents: a collection that suddenly has none, or lost most of them, never replaces a
good export without an explicit choice."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.stages.guards import document_loss
from embed_assets.core.storage.publish import ExportPublisher

from ..assets import chunks
from ..resources import PathsResource, QualityGatesResource
from .common import check_options, problems_md


@dg.asset_check(**check_options(chunks, "The collection kept its documents: not empty when the last good export had "
                                        "some, and no more than gates.max_document_drop of them gone (default "
                                        "50 %). Blocking: the last good export stays published unless the run "
                                        "allows it (--allow-empty, --allow-drop)."))
def documents_not_lost(context: dg.AssetCheckExecutionContext, chunks: pa.Table, paths: PathsResource,
                       gates: QualityGatesResource) -> dg.AssetCheckResult:
    previous = ExportPublisher(paths.exports, context.partition_key).current()
    loss = document_loss(previous, chunks.column("doc_id").to_pylist(), gates.guard_settings())
    return dg.AssetCheckResult(passed=not loss.problems, metadata={
        "previous_documents": loss.previous, "documents": loss.current, "lost": loss.lost,
        "lost_share": round(loss.share, 4), "max_document_drop": gates.max_document_drop,
        "allow_empty": gates.allow_empty, "problems": problems_md(loss.problems)})
