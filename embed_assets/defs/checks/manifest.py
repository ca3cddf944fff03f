"""The manifest: version matches content, committed schemas validate it, and nothing was
removed or retyped since the previous export."""

import json
from typing import Any

import dagster as dg
import pyarrow as pa

from embed_assets.core.manifest.models import SCHEMA_VERSION_DENSE, SCHEMA_VERSIONS
from embed_assets.core.manifest.validation import (
    compatibility_changes,
    expected_version,
    schema_problems,
    sparse_sections_missing,
    version_problems,
)
from embed_assets.core.storage.exports import read_manifest
from embed_assets.core.storage.publish import ExportPublisher

from ..assets import processing_summary
from ..resources import PathsResource
from .common import check_options, problems_md


def _manifest(summary: pa.Table) -> dict[str, Any]:
    return json.loads(summary.column("manifest_json")[0].as_py())


@dg.asset_check(**check_options(processing_summary, "schema_version matches what ran (4.0 dense-only, 4.1 with "
                                                    "sparse_run) and the manifest validates against that version's "
                                                    "committed JSON Schema."))
def manifest_schema_version(processing_summary: pa.Table) -> dg.AssetCheckResult:
    manifest = _manifest(processing_summary)
    found = manifest.get("schema_version")
    problems = version_problems(manifest)
    if found in SCHEMA_VERSIONS:
        problems += schema_problems(manifest, found)
    requested = bool(manifest.get("activation", {}).get("sparse", {}).get("enabled"))
    return dg.AssetCheckResult(
        passed=not problems, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"expected_version": expected_version(manifest), "found_version": str(found),
                  "sparse_sections_missing": sparse_sections_missing(manifest, requested),
                  "problems": problems_md(problems)},
    )


@dg.asset_check(**check_options(processing_summary, "The manifest validates against the committed 4.0 schema, and "
                                                    "since the previous export of the collection no field "
                                                    "disappeared or changed type."))
def manifest_additive_compatibility(processing_summary: pa.Table, paths: PathsResource) -> dg.AssetCheckResult:
    manifest = _manifest(processing_summary)
    problems = schema_problems(manifest, SCHEMA_VERSION_DENSE)
    collection = processing_summary.column("collection")[0].as_py()
    current_version = processing_summary.column("export_version")[0].as_py()
    history = [v for v in ExportPublisher(paths.exports, collection).versions() if v.name < current_version]
    previous = read_manifest(history[-1]) if history else None
    changes = compatibility_changes(previous, manifest) if previous else []
    return dg.AssetCheckResult(
        passed=not problems and not changes,
        metadata={
            "previous_version": history[-1].name if history else "none",
            "previous_schema_version": (previous or {}).get("schema_version", "none"),
            "changes": dg.MetadataValue.json([c.model_dump() for c in changes]),
            "problems": problems_md(problems),
        },
    )
