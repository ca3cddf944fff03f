"""The committed JSON Schemas of the manifest versions, generated from the models."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from .models import MODEL_BY_VERSION, SCHEMA_VERSIONS


def manifest_json_schema(version: str) -> dict[str, Any]:
    model = MODEL_BY_VERSION[version]
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"embed_assets/manifest-{version}.schema.json",
        "title": f"embed_assets processing manifest {version}",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_filename(version: str) -> str:
    return f"manifest-{version}.schema.json"


def committed_schema(version: str) -> dict[str, Any]:
    text = resources.files("embed_assets.schemas").joinpath(schema_filename(version)).read_text("utf-8")
    return json.loads(text)


def stale_schemas() -> list[str]:
    """Versions whose committed schema differs from what the models generate."""
    return [v for v in SCHEMA_VERSIONS if committed_schema(v) != manifest_json_schema(v)]


def write_schemas(folder: Path) -> list[Path]:
    written = []
    for version in SCHEMA_VERSIONS:
        path = folder / schema_filename(version)
        path.write_text(json.dumps(manifest_json_schema(version), indent=2, sort_keys=True) + "\n", "utf-8")
        written.append(path)
    return written
