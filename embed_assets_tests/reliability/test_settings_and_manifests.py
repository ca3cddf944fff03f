"""Late and hidden errors become early and named ones; manifests say what ran; what holds
document text is never world-readable."""

import json
import os
import stat
from pathlib import Path

import dagster as dg
import pytest

from embed_assets.core.devices.batching import AdaptiveBatcher
from embed_assets.core.manifest.models import ManifestV40

from ..helpers import materialize_collection, run_cli


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("EMBED_ASSETS_DENSE_MODELS", "all-MiniLM-L6-v2:0", "finite number above 0"),
    ("EMBED_ASSETS_DENSE_MODELS", "all-MiniLM-L6-v2:nan", "finite number above 0"),
    ("EMBED_ASSETS_DENSE_MODELS", "all-MiniLM-L6-v2:inf", "finite number above 0"),
    ("EMBED_ASSETS_SPARSE", "maybe", "is not a switch"),
    ("EMBED_ASSETS_EXECUTOR", "threads", "in_process"),
    ("EMBED_ASSETS_ENCODER_BACKEND", "tensorrt", "'onnx-int8'"),
])
def test_bad_settings_fail_at_once_and_name_the_variable(variable: str, value: str, named: str, tmp_path: Path,
                                                         data_root: Path) -> None:
    done = run_cli(["run", "--data-root", str(data_root)], tmp_path / "home", timeout=60, **{variable: value})
    assert done.returncode == 2 and f"setting {variable}:" in done.stderr and named in done.stderr, done.stderr
    assert not (data_root / "exports").exists()


def test_an_unwritable_export_root_and_an_unknown_model_fail_before_embedding(tmp_path: Path, data_root: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = run_cli(["run", "--data-root", str(data_root), "--export-root", str(blocker / "exports")],
                   tmp_path / "home", timeout=60)
    assert done.returncode == 2 and "export root:" in done.stderr and "not writable" in done.stderr
    done = run_cli(["run", "--data-root", str(data_root)], tmp_path / "home", timeout=60,
                   EMBED_ASSETS_DENSE_MODELS="no-such-model")
    assert done.returncode == 2 and "dense model: model 'no-such-model'" in done.stderr


def test_search_refuses_an_empty_query_and_a_top_k_below_one(tmp_path: Path) -> None:
    for args in (["search", "--collection", "x", "  "], ["search", "--collection", "x", "--top-k", "0", "q"]):
        done = run_cli(args, tmp_path / "home", timeout=60)
        assert done.returncode == 2 and ("the query is empty" in done.stderr or "at least 1" in done.stderr)


@pytest.mark.slow
def test_a_fresh_process_run_names_causes_honours_the_export_root_and_writes_a_correct_manifest(
        tmp_path: Path, data_root: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    args = ["run", "--data-root", str(data_root), "--collection", "ops-faq"]
    done = run_cli(args, tmp_path / "home", EMBED_ASSETS_DENSE_MODELS=str(broken))
    assert done.returncode == 1
    failure = [line for line in done.stdout.splitlines() if "failure" in line]
    assert failure and "ModelUnavailable" in failure[0] and "Error occurred while executing" not in failure[0]

    out = tmp_path / "shared-exports"
    done = run_cli(args, tmp_path / "home", EMBED_ASSETS_EXPORT_ROOT=str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((out / "ops-faq" / "processing_summary.json").read_text())
    assert not (data_root / "exports" / "ops-faq").exists()
    # In a fresh process the sparse model's width is its vocabulary, not its hidden size.
    assert manifest["stages"]["sparse"]["model"]["dim"] == 30522
    # The project's own 4.0 reader reads the 4.1 manifest, ignoring the additions.
    assert manifest["schema_version"] == "4.1" and ManifestV40.model_validate(manifest).collection == "ops-faq"
    found = run_cli(["search", "--collection", "ops-faq", "--data-root", str(data_root), "rotate credentials"],
                    tmp_path / "home", EMBED_ASSETS_EXPORT_ROOT=str(out))
    assert found.returncode == 0 and "search in ops-faq" in found.stdout, found.stderr


def test_the_batch_floor_holds_under_the_token_budget() -> None:
    batcher = AdaptiveBatcher("dense", "cpu", 64, token_budget=64)  # 64 tokens, items of 200: budget says 0
    sizes = [seg.stop - seg.start for seg in batcher.run(0, 20, lambda a, b: list(range(a, b)), lengths=[200] * 20)]
    assert sizes and min(sizes[:-1]) >= 4 and batcher.stats.min_batch >= 4


def test_files_holding_document_text_are_never_world_readable(instance: dg.DagsterInstance, data_root: Path) -> None:
    os.umask(0o022)
    assert materialize_collection(instance, data_root, "ops-faq").success
    written = [p for folder in ("exports", "storage", "cache") for p in (data_root / folder).rglob("*")
               if not p.is_symlink() and ".locks" not in p.parts]
    assert written
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o007 == 0, f"{path.relative_to(data_root)} is {oct(mode)}"
        assert mode == (0o750 if path.is_dir() else 0o640), f"{path.relative_to(data_root)} is {oct(mode)}"
