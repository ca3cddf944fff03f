"""The vector index holds what the export holds: every point, the manifest's schema, and
the export's vectors (a sample compared point by point)."""

import dagster as dg
import pyarrow as pa

from embed_assets.core.index.sync import read_export, summary_row
from embed_assets.core.index.verify import verify_index
from embed_assets.core.storage.publish import ExportPublisher

from ..assets import vector_index
from ..resources import PathsResource, VectorIndexResource
from .common import check_options, problems_md


@dg.asset_check(**check_options(vector_index, "The index version just published holds as many points as the "
                                              "export has rows, its named vectors match the manifest, and a "
                                              "sample of its points equals the export's vectors and ids."),
                additional_ins={"processing_summary": dg.AssetIn()})
def vector_index_matches_export(vector_index: pa.Table, processing_summary: pa.Table, paths: PathsResource,
                                index: VectorIndexResource) -> dg.AssetCheckResult:
    row = vector_index.to_pylist()[0]
    _, manifest = summary_row(processing_summary)
    folder = ExportPublisher(paths.exports, manifest["collection"]).history / row["export_version"]
    result = verify_index(index.target(), manifest["collection"], row["physical"], read_export(folder, manifest),
                          manifest, with_text=index.store_text, wait_s=index.check_wait_s)
    return dg.AssetCheckResult(passed=result.passed, metadata={
        "index_version": row["index_version"], "physical": row["physical"], "points": result.points,
        "export_rows": result.export_rows, "sampled": result.sampled,
        "schema": str(result.index_schema), "expected_schema": str(result.expected_schema),
        "problems": problems_md(result.problems[:20])})
