"""The settings: every environment variable parsed and validated in one place."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from embed_assets.core.settings import get_settings, parse_dense_models


def test_switches_parse_words_and_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_ASSETS_SPARSE", "off")
    monkeypatch.setenv("EMBED_ASSETS_LEXICAL", "enabled")
    s = get_settings()
    assert (s.sparse, s.lexical) == (False, True)
    monkeypatch.setenv("EMBED_ASSETS_SPARSE", "maybe")
    with pytest.raises(ValidationError, match="EMBED_ASSETS_SPARSE"):
        get_settings()


def test_paths_follow_home_data_root_and_export_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EMBED_ASSETS_HOME", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    s = get_settings()
    assert s.resolved_data_root == tmp_path / "data"
    assert s.export_root_for() == tmp_path / "data" / "exports"
    assert s.resolved_dagster_home == tmp_path / ".dagster"
    monkeypatch.setenv("EMBED_ASSETS_EXPORT_ROOT", str(tmp_path / "out"))
    assert get_settings().export_root_for() == tmp_path / "out"


@pytest.mark.parametrize("weight", ["0", "nan", "inf", "-1"])
def test_dense_model_weights_must_be_finite_and_positive(weight: str) -> None:
    with pytest.raises(ValueError, match="finite number above 0"):
        parse_dense_models(f"all-MiniLM-L6-v2:{weight}")


def test_dense_models_parse_refs_and_weights() -> None:
    models = parse_dense_models("all-MiniLM-L6-v2:2, /models/other")
    assert [(m.ref, m.weight) for m in models] == [("all-MiniLM-L6-v2", 2.0), ("/models/other", 1.0)]
    assert [m.ref for m in parse_dense_models("")] == ["all-MiniLM-L6-v2"]


def test_encoder_backends_reach_the_model_manager(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from embed_assets.defs.definitions import build_resources

    assert get_settings().encoder_backend == "onnx-int8"  # the default, chosen from measurements
    monkeypatch.setenv("EMBED_ASSETS_ENCODER_BACKEND", "ONNX-Int8")
    monkeypatch.setenv("EMBED_ASSETS_SPARSE_BACKEND", "torch")
    monkeypatch.setenv("EMBED_ASSETS_ENCODER_THREADS", "3")
    monkeypatch.setenv("EMBED_ASSETS_MODEL_CACHE", str(tmp_path / "graphs"))
    manager = build_resources(data_root=tmp_path)["model_manager"]
    assert (manager.backend_for("dense"), manager.backend_for("sparse")) == ("onnx-int8", "torch")  # type: ignore[attr-defined]
    assert manager.encoder_threads == 3 and manager.model_cache == str(tmp_path / "graphs")  # type: ignore[attr-defined]
    monkeypatch.setenv("EMBED_ASSETS_ENCODER_BACKEND", "tensorrt")
    with pytest.raises(ValidationError, match="encoder_backend"):
        get_settings()


def test_the_model_cache_defaults_to_the_user_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EMBED_ASSETS_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert get_settings().resolved_model_cache == tmp_path.resolve() / "embed_assets" / "models"
def test_scale_out_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBED_ASSETS_EXECUTOR", "celery")
    monkeypatch.setenv("EMBED_ASSETS_CELERY_BROKER", "redis://broker.internal:6379/0")
    monkeypatch.setenv("EMBED_ASSETS_SHARDS", "8")
    monkeypatch.setenv("EMBED_ASSETS_K8S_GPU_STEP", '{"pod_spec_config": {"node_selector": {"gpu": "l4"}}}')
    s = get_settings()
    assert (s.executor, s.celery_broker, s.shards) == ("celery", "redis://broker.internal:6379/0", 8)
    assert s.k8s_gpu_step == {"pod_spec_config": {"node_selector": {"gpu": "l4"}}}
    for name, value in (("EMBED_ASSETS_EXECUTOR", "threads"), ("EMBED_ASSETS_SHARDS", "0")):
        monkeypatch.setenv(name, value)
        with pytest.raises(ValidationError):
            get_settings()
        monkeypatch.delenv(name)
