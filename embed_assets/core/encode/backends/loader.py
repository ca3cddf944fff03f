"""Loading a model on an ONNX Runtime backend: the cached graph (exported and quantized
offline from the packaged model folder on first use), its encoder, and what it is.

The fp32 export is verified before it is cached: the encoder, tokenization included,
must reproduce the torch model's vectors for the probe texts (cosine ≥ 0.99999), in one
batch and one text at a time. Those torch vectors are stored with the graph as the
reference every backend of the model is later compared with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..models import ResolvedModel, load_dense_model, load_sparse_model, load_tokenizer, require_safetensors
from .base import BackendUnavailable
from .model_cache import GRAPH, Artifact, ModelCache, model_files_digest
from .probes import PROBE_SET_VERSION, PROBES, encode_probes
from .spec import BackendInfo, BackendSpec, ProbeAgreement

log = logging.getLogger(__name__)
Kind = Literal["dense", "sparse"]
REFERENCE = "reference.npy"
EXACT_COSINE = 0.99999


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@dataclass
class LoadedBackend:
    """A model on a backend: the encoder, what it is, and the torch reference for its probes."""

    model: Any
    info: BackendInfo
    reference: np.ndarray | None
    probe: ProbeAgreement | None = None
    probed: bool = False


def _fp32_components(kind: Kind, resolved: ResolvedModel) -> dict[str, Any]:
    from .export import DENSE_RECIPE, EXPORTER, OPSET, SPARSE_RECIPE

    return {"kind": kind, "model_files": model_files_digest(resolved.location),
            "recipe": DENSE_RECIPE if kind == "dense" else SPARSE_RECIPE, "exporter": EXPORTER, "opset": OPSET,
            "torch": version("torch"), "transformers": version("transformers"),
            "sentence_transformers": version("sentence-transformers"), "onnx": version("onnx"),
            "probes": PROBE_SET_VERSION}


def _torch_model(kind: Kind, resolved: ResolvedModel) -> Any:
    return load_dense_model(resolved) if kind == "dense" else load_sparse_model(resolved)


def _encoder(kind: Kind, graph_for: Any, tokenizer: Any, model_meta: dict[str, Any], threads: int,
             max_batch: int | None) -> Any:
    from .ort_encoders import OnnxDenseModel, OnnxSparseModel

    cls = OnnxDenseModel if kind == "dense" else OnnxSparseModel
    return cls(graph_for=graph_for, tokenizer=tokenizer, max_seq_length=model_meta["max_seq_length"],
               dim=model_meta["dim"], threads=threads, max_batch=max_batch, lowercase=model_meta["lowercase"],
               parameter_count=model_meta["parameter_count"])


def _check_reproduces(kind: Kind, encoder: Any, reference: np.ndarray) -> None:
    from .probes import as_matrix, cosines

    batched = as_matrix(encoder.encode(list(PROBES), convert_to_tensor=False, convert_to_sparse_tensor=False))
    single = encode_probes(encoder, kind)
    for got in (batched, single):
        worst = float(cosines(got, reference).min())
        if worst < EXACT_COSINE:
            raise BackendUnavailable(f"the exported {kind} graph does not reproduce the torch model "
                                     f"(probe cosine {worst:.6f} < {EXACT_COSINE})")


def _export_fp32(kind: Kind, resolved: ResolvedModel, folder: Path) -> dict[str, Any]:
    from .export import DENSE_OUTPUT, SPARSE_OUTPUT, dense_graph, export_graph, sparse_graph

    torch_model = _torch_model(kind, resolved)
    reference = encode_probes(torch_model, kind)
    np.save(folder / REFERENCE, reference, allow_pickle=False)
    module, names = dense_graph(torch_model) if kind == "dense" else sparse_graph(torch_model)
    seconds = export_graph(module, names, torch_model.tokenizer, DENSE_OUTPUT if kind == "dense" else SPARSE_OUTPUT,
                           folder / GRAPH)
    transformer = torch_model[0]
    model_meta = {"dim": int(reference.shape[1]), "max_seq_length": int(torch_model.max_seq_length),
                  "lowercase": bool(getattr(transformer, "do_lower_case", False)), "inputs": list(names),
                  "parameter_count": int(sum(p.numel() for p in torch_model.parameters()))}
    encoder = _encoder(kind, lambda _d: folder / GRAPH, load_tokenizer(resolved), model_meta, 1, None)
    _check_reproduces(kind, encoder, reference)
    log.info("exported the %s model %s to ONNX in %.1fs", kind, resolved.ref, seconds)
    return {"build_s": seconds, "model": model_meta}


class OnnxModels:
    """Builds (once) and loads graphs of models from the model cache."""

    def __init__(self, cache_root: Path, threads: int) -> None:
        self.cache = ModelCache(cache_root)
        self.threads = threads

    def fp32(self, kind: Kind, resolved: ResolvedModel) -> Artifact:
        require_safetensors(resolved.location)
        return self.cache.get_or_build(self.cache.model_folder(kind, resolved), "onnx",
                                       _fp32_components(kind, resolved),
                                       lambda folder: _export_fp32(kind, resolved, folder))

    def derived(self, kind: Kind, resolved: ResolvedModel, name: str, settings: dict[str, Any],
                make: Any) -> tuple[Artifact, Artifact]:
        """A graph derived from the fp32 one by ``make(source, dest) -> seconds``."""
        source = self.fp32(kind, resolved)
        components = {"source": source.key, "onnxruntime": version("onnxruntime"), **settings}

        def build(folder: Path) -> dict[str, Any]:
            return {"build_s": make(source.graph, folder / GRAPH), "model": source.model}

        return self.cache.get_or_build(self.cache.model_folder(kind, resolved), name, components, build), source

    def graph_for(self, kind: Kind, resolved: ResolvedModel, cpu_graph: Path) -> Any:
        def pick(device: str) -> Path:
            if not device.startswith("cuda"):
                return cpu_graph
            from .quantize import convert_fp16

            return self.derived(kind, resolved, "onnx-fp16", {"precision": "fp16"}, convert_fp16)[0].graph

        return pick

    def artifact(self, kind: Kind, resolved: ResolvedModel, spec: BackendSpec) -> tuple[Artifact, Artifact]:
        """The graph ``spec`` runs and the fp32 graph it derives from (the same for fp32)."""
        if spec.quantization is None:
            fp32 = self.fp32(kind, resolved)
            return fp32, fp32
        from .quantize import quantize_int8

        settings = spec.quantization
        return self.derived(kind, resolved, spec.name, settings.model_dump(mode="json"),
                            lambda src, dst: quantize_int8(src, dst, settings))

    def load(self, kind: Kind, resolved: ResolvedModel, spec: BackendSpec) -> LoadedBackend:
        artifact, source = self.artifact(kind, resolved, spec)
        build_s = artifact.build_s + (source.build_s if source is not artifact else 0.0)
        model = _encoder(kind, self.graph_for(kind, resolved, artifact.graph), load_tokenizer(resolved),
                         artifact.model, self.threads, spec.max_batch)
        info = BackendInfo(name=spec.name, requested=spec.name, runtime="onnxruntime",
                           runtime_version=version("onnxruntime"), precision=spec.precision,
                           quantization=spec.quantization.model_dump(mode="json") if spec.quantization else None,
                           artifact_key=artifact.key, artifact_sha256=artifact.sha256, export_s=round(build_s, 3),
                           threads=self.threads, max_batch=spec.max_batch)
        reference = np.load(source.folder / REFERENCE, allow_pickle=False)
        return LoadedBackend(model=model, info=info, reference=reference)
