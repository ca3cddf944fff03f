"""A server's API key reaches the client and nothing else: not the event log, metadata,
manifests, the index's own state, files on disk, or what the commands print — when the run
succeeds (the client's local mode) and when the server cannot be reached."""

from pathlib import Path

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from embed_assets.defs.definitions import build_definitions

from ..helpers import checks, materialize_collection, materialized

pytestmark = pytest.mark.slow
CANARY = "canary-0d9c2b7e41f6-secret"
USER_CANARY = "canary-user-77a1c3"


def _run_text(instance: dg.DagsterInstance, run_id: str) -> str:
    """Everything the instance recorded about a run: the run itself and every event."""
    run = instance.get_run_by_id(run_id)
    return serialize_value(run) + "".join(serialize_value(entry) for entry in instance.all_logs(run_id))


def _files_text(*roots: Path) -> bytes:
    return b"".join(p.read_bytes() for root in roots if root.exists() for p in root.rglob("*") if p.is_file())


def test_the_api_key_stays_out_of_everything_recorded(instance: dg.DagsterInstance, data_root: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EMBED_ASSETS_QDRANT_URL", f"file://{tmp_path / 'qdrant'}")
    monkeypatch.setenv("EMBED_ASSETS_QDRANT_API_KEY", CANARY)
    resource = build_definitions(data_root=data_root).resources["index"]
    assert CANARY not in repr(resource) and resource.api_key == "EMBED_ASSETS_QDRANT_API_KEY"  # a reference

    ok = materialize_collection(instance, data_root, "ops-faq")
    assert ok.success and checks(ok)["vector_index_matches_export"]
    assert (ok.index["backend"], ok.index["collection_name"]) == ("qdrant", "ops-faq")
    assert ok.index["location"] == f"file://{tmp_path / 'qdrant'}" and ok.index["physical"] == "ops-faq--blue"

    monkeypatch.setenv("EMBED_ASSETS_QDRANT_URL", f"http://{USER_CANARY}:{CANARY}@127.0.0.1:9")
    failed = materialize_collection(instance, data_root, "ops-faq")
    assert not failed.success and "vector_index" not in materialized(failed)
    assert any("qdrant" in f and "failed" in f for f in failed.failures), failed.failures

    recorded = _run_text(instance, ok.run_id) + _run_text(instance, failed.run_id)
    assert "ops-faq--blue" in recorded and "stays served" in recorded  # the scan sees what was logged
    printed = capfd.readouterr()
    for secret in (CANARY, USER_CANARY):
        assert secret not in recorded
        assert secret not in printed.out + printed.err
        assert secret.encode() not in _files_text(data_root, tmp_path / "qdrant")
