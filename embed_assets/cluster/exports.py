"""Checks on what a cluster's runs published: every collection's manifest is valid and its
own run's, the export files match the manifest (rows, sha256), and a sharded collection
recorded its shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from embed_assets.core.manifest.models import parse_manifest
from embed_assets.core.manifest.validation import schema_problems
from embed_assets.core.storage.exports import FUSED_PARQUET, MANIFEST_NAME
from embed_assets.core.storage.hashing import file_sha256


def _export_problems(folder: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    chunks = manifest["stages"]["chunks"]["count"]
    if pq.read_metadata(folder / FUSED_PARQUET).num_rows != chunks:
        problems.append(f"{FUSED_PARQUET} does not hold the manifest's {chunks} chunks")
    for entry in manifest["exports"]:
        if file_sha256(folder / entry["path"]) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest")
    return problems


def _shard_problems(manifest: dict[str, Any], shards: int) -> list[str]:
    problems = []
    for stage in ("dense", "sparse"):
        section = manifest["stages"].get(stage)
        if section is None:
            continue
        expected = max(1, min(shards, section["unique_chunks"]))
        if section.get("shards", 1) != expected:
            problems.append(f"stages.{stage}.shards is {section.get('shards')}, expected {expected}")
    return problems


def validate_exports(data_root: Path, runs: list[Any], shards: dict[str, int]) -> list[str]:
    """Problems with the exports of ``runs`` (empty: all good); ``shards``: collection → shards asked."""
    problems = []
    for run in runs:
        collection = run.tags.get("dagster/partition", "")
        folder = data_root / "exports" / collection
        try:
            manifest = json.loads((folder / MANIFEST_NAME).read_text("utf-8"))
            parse_manifest(manifest)
        except (OSError, ValueError) as exc:
            problems.append(f"{collection}: no valid manifest ({type(exc).__name__})")
            continue
        found = schema_problems(manifest, manifest["schema_version"]) + _export_problems(folder, manifest)
        if manifest["run"]["dagster_run_id"] != run.run_id:
            found.append(f"published by run {manifest['run']['dagster_run_id'][:8]}, not {run.run_id[:8]}")
        found += _shard_problems(manifest, shards.get(collection, 1))
        problems += [f"{collection}: {p}" for p in found]
    return problems
