import json
import subprocess
import sys

import jsonschema
import pytest

from embed_assets.core.manifest.compat import project, structural_changes
from embed_assets.core.manifest.models import SCHEMA_VERSIONS, parse_manifest
from embed_assets.core.manifest.schemas import committed_schema, manifest_json_schema
from embed_assets.core.manifest.validation import compatibility_changes, version_problems
from embed_assets.core.toggles import resolve_sparse


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
def test_committed_schemas_match_the_models(version: str) -> None:
    assert committed_schema(version) == manifest_json_schema(version), (
        "the committed JSON Schema drifted from the pydantic models: run `embed-collections schemas`")


def test_schema_check_command_agrees() -> None:
    done = subprocess.run([sys.executable, "-m", "embed_assets.cli", "schemas", "--check"], capture_output=True)
    assert done.returncode == 0, done.stderr


def test_the_40_schema_admits_any_4x_version_and_unknown_keys() -> None:
    schema = committed_schema("4.0")
    assert "additionalProperties" not in schema or schema["additionalProperties"] is not False
    assert schema["properties"]["schema_version"]["pattern"] == r"^4\.[0-9]+$"


def test_compat_diff_finds_removed_fields_and_type_changes_but_allows_maps_and_nulls() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": "object", "properties": {"c": {"type": "string"}, "d": {"type": "string"}}},
            "m": {"type": "object", "additionalProperties": {"type": "integer"}},
            "o": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    }
    prev = {"a": 1, "b": {"c": "x", "d": "y"}, "m": {"k1": 1, "k2": 2}, "o": None}
    cur = {"a": "1", "b": {"c": "x"}, "m": {"k1": 5}, "o": "now set", "extra": True}
    changes = {(c.path, c.change) for c in structural_changes(prev, cur, schema)}
    assert changes == {("a", "type_changed"), ("b.d", "removed")}
    assert project(cur, schema) == {"a": "1", "b": {"c": "x"}, "m": {"k1": 5}, "o": "now set"}


def test_version_problems_catch_a_mismatch() -> None:
    assert version_problems({"schema_version": "4.0", "sparse_run": {}, "activation": {"sparse": {"enabled": True}}})
    assert version_problems({"schema_version": "4.1", "activation": {"sparse": {"enabled": False}}})
    assert not version_problems({"schema_version": "4.0", "activation": {"sparse": {"enabled": False}}})


def test_parse_manifest_refuses_unknown_versions() -> None:
    with pytest.raises(ValueError, match="unknown manifest schema_version"):
        parse_manifest({"schema_version": "5.0"})


def test_toggle_precedence_and_recorded_source() -> None:
    assert resolve_sparse(cli=True, run_config=False, environment=False).decided_by == "cli"
    d = resolve_sparse(cli=None, run_config=False, environment=True)
    assert (d.enabled, d.decided_by) == (False, "run_config")
    d = resolve_sparse(environment=False)
    assert (d.enabled, d.decided_by, d.requested["environment"]) == (False, "environment", False)
    d = resolve_sparse()
    assert (d.enabled, d.decided_by) == (True, "default")


def test_compatibility_between_41_and_40_uses_their_shared_schema() -> None:
    schema40 = committed_schema("4.0")
    doc40 = {"schema_version": "4.0", "exports": [], "stages": {}, "performance": {"stages": {"dense": {}}}}
    doc41 = json.loads(json.dumps(doc40)) | {"schema_version": "4.1", "sparse_run": {"run_id": "x"}}
    doc41["performance"]["stages"]["sparse"] = {}
    assert compatibility_changes(doc41, doc40) == []
    assert compatibility_changes(doc40, doc41) == []
    assert schema40["properties"].keys() >= {"schema_version", "stages", "activation", "performance", "exports"}
    jsonschema.Draft202012Validator.check_schema(schema40)
