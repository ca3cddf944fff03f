"""The regression gates on a manifest, shared by the publishing step and the asset
checks: version matches content, the committed JSON Schemas validate it, and against
the previous manifest of the same collection no field disappeared or changed type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..storage.exports import read_manifest
from .compat import FieldChange, schema_errors, structural_changes
from .models import SCHEMA_VERSION_DENSE, SCHEMA_VERSION_SPARSE, SCHEMA_VERSIONS
from .schemas import committed_schema


def expected_version(manifest: dict[str, Any]) -> str:
    """What the content says the version must be: 4.1 exactly when sparse sections exist."""
    return SCHEMA_VERSION_SPARSE if "sparse_run" in manifest else SCHEMA_VERSION_DENSE


def version_problems(manifest: dict[str, Any]) -> list[str]:
    problems = []
    found = manifest.get("schema_version")
    expected = expected_version(manifest)
    if found != expected:
        problems.append(f"schema_version is {found!r} but the content is a {expected} manifest")
    enabled = (manifest.get("activation") or {}).get("sparse", {}).get("enabled")
    if enabled is True and "sparse_run" not in manifest:
        problems.append("sparse ran (activation.sparse.enabled) but the manifest has no sparse_run section")
    if enabled is False and "sparse_run" in manifest:
        problems.append("sparse was disabled but the manifest has a sparse_run section")
    return problems


def schema_problems(manifest: dict[str, Any], version: str) -> list[str]:
    return [f"against the {version} schema: {e}" for e in schema_errors(manifest, committed_schema(version))]


def sparse_sections_missing(manifest: dict[str, Any], sparse_requested: bool) -> bool:
    """Sparse was asked for but the manifest lacks its sections: a soft warning, not a failure."""
    return sparse_requested and "sparse_run" not in manifest


def compatibility_changes(previous: dict[str, Any], current: dict[str, Any]) -> list[FieldChange]:
    """Changes against the previous manifest, over the schema both versions share."""
    versions = [v for v in (previous.get("schema_version"), current.get("schema_version")) if v in SCHEMA_VERSIONS]
    shared = min(versions, default=SCHEMA_VERSION_DENSE)
    return structural_changes(previous, current, committed_schema(shared))


def validate_before_publish(doc: dict[str, Any], previous_folder: Path | None) -> list[str]:
    """Every reason not to publish the manifest ``doc``; empty when it may be published."""
    problems = version_problems(doc)
    problems += schema_problems(doc, SCHEMA_VERSION_DENSE)
    if doc.get("schema_version") == SCHEMA_VERSION_SPARSE:
        problems += schema_problems(doc, SCHEMA_VERSION_SPARSE)
    previous = read_manifest(previous_folder)
    if previous is not None:
        problems += [f"{c.path}: {c.change} ({c.before} → {c.after}) since the previous export"
                     for c in compatibility_changes(previous, doc)]
    return problems
