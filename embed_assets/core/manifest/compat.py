"""Additive compatibility between manifests: validation against a committed JSON
Schema, projection of a document onto a schema (what a reader of that version sees),
and the structural diff that finds removed fields and changed types."""

from __future__ import annotations

from typing import Any

import jsonschema
from pydantic import BaseModel


class FieldChange(BaseModel):
    path: str
    change: str  # "removed" | "type_changed"
    before: str
    after: str


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def schema_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $refs are supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def project(document: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """The part of ``document`` a reader of ``schema`` knows: unknown keys dropped."""
    root = root or schema
    node = _resolve(schema, root)
    for combinator in ("anyOf", "oneOf"):
        if combinator in node and document is not None:
            for option in node[combinator]:
                opt = _resolve(option, root)
                if opt.get("type") == "null":
                    continue
                return project(document, opt, root)
    if isinstance(document, dict) and "properties" in node:
        return {k: project(document[k], node["properties"][k], root) for k in node["properties"] if k in document}
    if isinstance(document, dict) and isinstance(node.get("additionalProperties"), dict):
        return {k: project(v, node["additionalProperties"], root) for k, v in document.items()}
    if isinstance(document, list) and isinstance(node.get("items"), dict):
        return [project(item, node["items"], root) for item in document]
    return document


def structural_changes(previous: Any, current: Any, schema: dict[str, Any],
                       root: dict[str, Any] | None = None, path: str = "") -> list[FieldChange]:
    """Fields that ``schema`` declares, present in ``previous``, that ``current`` lost or
    whose JSON type changed. Maps (``additionalProperties``) may gain or lose keys; a
    null on either side is compatible with any type (an optional field)."""
    root = root or schema
    node = _resolve(schema, root)
    before, after = json_type(previous), json_type(current)
    if "null" in (before, after):
        return []
    if before != after:
        return [FieldChange(path=path or "(root)", change="type_changed", before=before, after=after)]
    for combinator in ("anyOf", "oneOf"):
        options = [_resolve(o, root) for o in node.get(combinator, [])]
        typed = [o for o in options if o.get("type") != "null"]
        if typed:
            node = typed[0]
    changes: list[FieldChange] = []
    if isinstance(previous, dict) and "properties" in node:
        for key, sub_schema in node["properties"].items():
            if key not in previous:
                continue
            sub = f"{path}.{key}" if path else key
            if key not in current:
                changes.append(FieldChange(path=sub, change="removed", before=json_type(previous[key]), after="missing"))
            else:
                changes.extend(structural_changes(previous[key], current[key], sub_schema, root, sub))
    elif isinstance(previous, dict) and isinstance(node.get("additionalProperties"), dict):
        for key in previous.keys() & current.keys():
            changes.extend(structural_changes(previous[key], current[key], node["additionalProperties"], root,
                                              f"{path}.{key}"))
    elif isinstance(previous, list) and previous and current and isinstance(node.get("items"), dict):
        changes.extend(structural_changes(previous[0], current[0], node["items"], root, f"{path}[]"))
    return changes
