"""The encoder backends on the real packaged models: graphs exported and quantized for real
into the session's model cache, real ONNX Runtime sessions, compared with the torch models."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embed_assets.core.encode.backends.loader import OnnxModels
from embed_assets.core.encode.backends.ort_encoders import OnnxDenseModel, OnnxSparseModel
from embed_assets.core.encode.backends.probes import agreement, as_matrix, cosines, top_overlap
from embed_assets.core.encode.backends.registry import guarded, load_encoder, probe_agreement, torch_model
from embed_assets.core.encode.backends.spec import backend_spec
from embed_assets.core.encode.models import resolve_model
from embed_assets.core.settings import DEFAULT_DENSE_MODEL, DEFAULT_SPARSE_MODEL

CACHE = Path(os.environ["EMBED_ASSETS_MODEL_CACHE"])
REFS = {"dense": DEFAULT_DENSE_MODEL, "sparse": DEFAULT_SPARSE_MODEL}
TEXTS = [
    "Learned sparse retrieval expands passages with related vocabulary terms.",
    "   GPU memory is leased per stage under a hard cap of twelve gigabytes.  ",
    "short",
    "",
    "Ünïcödé text, emoji 🙂 and CJK 漢字 mixed with ASCII.",
    "A much longer passage " + "about chunking, tokenizers, batching and fallback vectors " * 40,
    "def f(x):\n\treturn x ** 2  # tabs and newlines",
]


def _loaded(kind: str, backend: str):
    return load_encoder(kind, resolve_model(REFS[kind]), backend, cache_root=CACHE)  # type: ignore[arg-type]


def _vectors(model, kind: str, texts: list[str], batch_size: int = 32) -> np.ndarray:
    if kind == "dense":
        return as_matrix(model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True))
    return as_matrix(model.encode(texts, batch_size=batch_size, convert_to_tensor=True, convert_to_sparse_tensor=False))


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_each_backend_loads_offline_and_stays_within_tolerance_of_torch(kind: str, backend: str) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    loaded = _loaded(kind, backend)
    info = loaded.info
    assert (info.name, info.requested, info.runtime, info.fallback_reason) == (backend, backend, "onnxruntime", None)
    assert isinstance(loaded.model, OnnxDenseModel if kind == "dense" else OnnxSparseModel)
    assert info.precision == ("int8" if backend == "onnx-int8" else "fp32")
    if backend == "onnx-int8":
        assert info.quantization == {"method": "dynamic", "weight_type": "QInt8", "per_channel": True,
                                     "reduce_range": False, "op_types": [], "fp32_ffn_outputs": 2}
        assert info.max_batch == 1
    ours = _vectors(loaded.model, kind, TEXTS)
    reference = _vectors(torch_model(kind, resolve_model(REFS[kind])), kind, TEXTS)  # type: ignore[arg-type]
    assert ours.shape == reference.shape
    exact = backend == "onnx"
    if kind == "dense":
        assert cosines(ours, reference).min() >= (0.99999 if exact else 0.98)
    else:
        assert top_overlap(ours, reference).mean() >= (0.99 if exact else 0.9)
        assert cosines(ours, reference).min() >= (0.99999 if exact else 0.99)
    if exact:
        assert np.abs(ours - reference).max() <= 1e-4
    probe = probe_agreement(kind, loaded)  # type: ignore[arg-type]
    assert probe is not None and probe.passed and probe.probes >= 16


def test_the_splade_graph_returns_pooled_vectors_equal_to_stock_splade() -> None:
    from sentence_transformers import SparseEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    loaded = _loaded("sparse", "onnx")
    session = loaded.model.session("cpu")
    (output,) = session.get_outputs()
    assert output.shape[0] == "batch" and len(output.shape) == 2  # (batch, vocabulary): no logits leave the graph
    stock = SparseEncoder(modules=[Transformer(resolve_model(DEFAULT_SPARSE_MODEL).location,
                                               transformer_task="fill-mask"), SpladePooling("max")], device="cpu")
    want = as_matrix(stock.encode(TEXTS, convert_to_tensor=True, convert_to_sparse_tensor=False, batch_size=7))
    for batch in (1, 3, 7):  # padded batches of mixed lengths: padding never reaches the max
        got = loaded.model.run(TEXTS, max_batch=batch)
        assert got.shape == (len(TEXTS), 30522)
        assert np.abs(got - want).max() <= 1e-4
        assert ((got > 0) == (want > 0)).mean() > 0.9999


def test_tokenization_matches_sentence_transformers() -> None:
    for kind in ("dense", "sparse"):
        onnx = _loaded(kind, "onnx").model
        reference = torch_model(kind, resolve_model(REFS[kind]))  # type: ignore[arg-type]
        features = reference.tokenize(TEXTS)
        for row, ids in enumerate(onnx._token_ids(TEXTS)):
            n = int(features["attention_mask"][row].sum())
            assert ids == features["input_ids"][row][:n].tolist()


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_int8_vectors_do_not_depend_on_their_batch_mates(kind: str) -> None:
    model = _loaded(kind, "onnx-int8").model
    alone = np.concatenate([_vectors(model, kind, [t], batch_size=1) for t in TEXTS])
    together = _vectors(model, kind, TEXTS, batch_size=len(TEXTS))
    shuffled = _vectors(model, kind, TEXTS[::-1], batch_size=3)[::-1]
    assert np.array_equal(alone, together) and np.array_equal(alone, shuffled)


def test_the_model_cache_builds_once_keys_every_setting_and_rebuilds_a_corrupt_graph(tmp_path: Path) -> None:
    resolved = resolve_model(DEFAULT_SPARSE_MODEL)
    models = OnnxModels(CACHE, threads=1)
    fp32, _ = models.artifact("sparse", resolved, backend_spec("onnx"))
    int8, source = models.artifact("sparse", resolved, backend_spec("onnx-int8"))
    assert source == fp32 and int8.folder != fp32.folder and int8.folder.parent == fp32.folder.parent
    assert int8.meta["components"]["source"] == fp32.key and int8.meta["components"]["per_channel"] is True
    assert {"torch", "transformers", "onnx", "opset", "recipe", "model_files"} <= fp32.meta["components"].keys()
    again, _ = OnnxModels(CACHE, threads=1).artifact("sparse", resolved, backend_spec("onnx"))
    assert again.meta["created_at"] == fp32.meta["created_at"]  # loaded, not rebuilt
    copy = tmp_path / "cache"
    shutil.copytree(CACHE / fp32.folder.parent.name, copy / fp32.folder.parent.name)
    broken = copy / fp32.folder.parent.name / fp32.folder.name / "model.onnx"
    broken.write_bytes(broken.read_bytes()[:1000])
    rebuilt, _ = OnnxModels(copy, threads=1).artifact("sparse", resolved, backend_spec("onnx"))
    assert rebuilt.sha256 == fp32.sha256 and rebuilt.meta["created_at"] != fp32.meta["created_at"]  # deterministic
    assert json.loads((rebuilt.folder / "artifact.json").read_text())["bytes"] == broken.stat().st_size


def test_a_model_the_graph_cannot_serve_falls_back_to_torch_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "prompted-minilm"
    shutil.copytree(resolve_model(DEFAULT_DENSE_MODEL).location, folder)
    config = folder / "config_sentence_transformers.json"
    data = json.loads(config.read_text())
    config.write_text(json.dumps({**data, "prompts": {"query": "query: "}, "default_prompt_name": "query"}))
    loaded = load_encoder("dense", resolve_model(str(folder)), "onnx", cache_root=tmp_path / "cache")
    assert (loaded.info.name, loaded.info.requested, loaded.info.runtime) == ("torch", "onnx", "torch")
    assert loaded.info.fallback_reason and "prompts" in loaded.info.fallback_reason
    assert not list((tmp_path / "cache").glob("*/onnx-*"))  # nothing half-built is left behind


def test_an_int8_encoder_missing_its_tolerance_on_this_machine_is_replaced_by_fp32() -> None:
    resolved = resolve_model(DEFAULT_DENSE_MODEL)
    int8 = OnnxModels(CACHE, threads=1).load("dense", resolved, backend_spec("onnx-int8"))
    kept = guarded("dense", resolved, int8, CACHE)
    assert kept is int8 and kept.probe is not None and kept.probe.passed
    strict = guarded("dense", resolved, OnnxModels(CACHE, threads=1).load("dense", resolved, backend_spec("onnx-int8")),
                     CACHE, tolerance={"dense_cosine_min": 0.9999})
    assert (strict.info.name, strict.info.requested, strict.info.precision) == ("onnx", "onnx-int8", "fp32")
    assert strict.info.fallback_reason and "miss the probe tolerance" in strict.info.fallback_reason
    assert isinstance(strict.model, OnnxDenseModel) and strict.model.max_batch == 4


def test_the_quality_guard_fails_past_its_tolerance() -> None:
    loaded = _loaded("dense", "onnx-int8")
    probe = probe_agreement("dense", loaded)
    assert probe is not None and probe.passed and 0.98 <= probe.dense_cosine_min < 0.9999  # type: ignore[operator]
    got = as_matrix(loaded.model.encode(TEXTS))
    ref = as_matrix(_loaded("dense", "torch").model.encode(TEXTS, normalize_embeddings=True))
    assert not agreement(got, ref, "dense", "int8", {"dense_cosine_min": 0.9999}).passed
    assert agreement(got, ref, "dense", "int8").passed


def test_concurrent_processes_build_a_graph_once(tmp_path: Path) -> None:
    script = ("import sys; from pathlib import Path\n"
              "from embed_assets.core.encode.backends.loader import OnnxModels\n"
              "from embed_assets.core.encode.backends.spec import backend_spec\n"
              "from embed_assets.core.encode.models import resolve_model\n"
              "a, _ = OnnxModels(Path(sys.argv[1]), 1).artifact('sparse', resolve_model('splade-tiny'), "
              "backend_spec('onnx'))\n"
              "print(a.meta['created_at'], a.sha256)\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "cache")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one build, the others loaded it
    assert len(list((tmp_path / "cache").glob("sparse-*/onnx-*"))) == 1
    assert not list((tmp_path / "cache").glob("sparse-*/.*tmp-*"))


def test_the_cuda_fp16_graph_converts_and_stays_close_on_the_cpu() -> None:
    """The CUDA path's graph (the CUDA execution provider itself is not available here)."""
    from embed_assets.core.encode.backends.ort_encoders import make_session
    from embed_assets.core.encode.backends.quantize import convert_fp16

    resolved = resolve_model(DEFAULT_SPARSE_MODEL)
    fp16, fp32 = OnnxModels(CACHE, threads=1).derived("sparse", resolved, "onnx-fp16", {"precision": "fp16"},
                                                      convert_fp16)
    assert fp16.meta["components"]["source"] == fp32.key
    model = _loaded("sparse", "onnx").model
    feeds = model._feeds(model._token_ids(TEXTS[:3]), {"input_ids", "attention_mask", "token_type_ids"})
    half = make_session(fp16.graph, 1).run(None, feeds)[0]
    full = make_session(fp32.graph, 1).run(None, feeds)[0]
    assert half.dtype == np.float32 and cosines(half, full).min() >= 0.999
