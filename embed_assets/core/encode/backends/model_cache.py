"""The model cache: exported and quantized graphs, built once and reused by every later run.

Layout (``<root>`` is ``EMBED_ASSETS_MODEL_CACHE``, default ``~/.cache/embed_assets/models``)::

    <root>/<kind>-<model>-<weights sha256[:12]>/
        onnx-<key[:16]>/        model.onnx, reference.npy (torch probe vectors), artifact.json
        onnx-int8-<key[:16]>/   model.onnx, artifact.json
        onnx-fp16-<key[:16]>/   model.onnx, artifact.json (built on first use on a CUDA device)
    <root>/.locks/              one file lock per artifact

An artifact's key is the sha256 of everything that shapes its bytes: the model's weights,
configuration and tokenizer files, the graph recipe and its version, the exporter (torch,
transformers and sentence-transformers versions, exporter kind, opset) and, for derived
graphs, the source graph's key, the onnxruntime version and every quantization setting.
Exports are deterministic, so equal keys mean equal graphs. A build happens under the
artifact's file lock, in a temporary folder renamed into place, so concurrent processes
build it once and a killed build leaves nothing half-written; the graph's sha256 is
recorded and checked on load.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from ...storage.debris import is_debris, owned_name
from ...storage.files import make_dirs
from ...storage.hashing import file_sha256, sha256_hex
from ..models import ResolvedModel, model_key, weights_fingerprint

GRAPH = "model.onnx"
META = "artifact.json"
_SMALL_FILES = ("*.json", "*.txt", "*.model")


def model_files_digest(location: str) -> str:
    """sha256 over the weights fingerprint and every configuration and tokenizer file."""
    root = Path(location)
    small = sorted(p for pattern in _SMALL_FILES for p in root.rglob(pattern) if p.is_file())
    parts = [weights_fingerprint(location)] + [f"{p.relative_to(root)}:{file_sha256(p)}" for p in small]
    return sha256_hex("\n".join(parts))


def key_of(components: dict[str, Any]) -> str:
    return sha256_hex(json.dumps(components, sort_keys=True, default=str))


@dataclass(frozen=True)
class Artifact:
    folder: Path
    key: str
    meta: dict[str, Any]

    @property
    def graph(self) -> Path:
        return self.folder / GRAPH

    @property
    def sha256(self) -> str:
        return str(self.meta["sha256"])

    @property
    def build_s(self) -> float:
        return float(self.meta.get("build_s", 0.0))

    @property
    def model(self) -> dict[str, Any]:
        return dict(self.meta.get("model", {}))


Builder = Callable[[Path], dict[str, Any]]
"""Writes ``model.onnx`` (and anything else) into a folder; returns the metadata to record."""


class ModelCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def model_folder(self, kind: str, resolved: ResolvedModel) -> Path:
        return self.root / f"{kind}-{model_key(resolved.ref)}-{weights_fingerprint(resolved.location)[:12]}"

    def _read(self, folder: Path, key: str) -> Artifact | None:
        try:
            meta = json.loads((folder / META).read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if meta.get("key") != key or not (folder / GRAPH).is_file():
            return None
        return Artifact(folder=folder, key=key, meta=meta)

    def _verified(self, artifact: Artifact | None) -> Artifact | None:
        if artifact is not None and file_sha256(artifact.graph) == artifact.sha256:
            return artifact
        return None

    def get_or_build(self, model_folder: Path, name: str, components: dict[str, Any], build: Builder) -> Artifact:
        """The artifact ``name`` with these key components, building it first when absent or corrupt."""
        key = key_of(components)
        folder = model_folder / f"{name}-{key[:16]}"
        found = self._verified(self._read(folder, key))
        if found is not None:
            return found
        locks = make_dirs(self.root / ".locks")
        with FileLock(str(locks / f"{model_folder.name}-{folder.name}.lock")):
            found = self._verified(self._read(folder, key))
            if found is not None:
                return found
            return self._build(folder, key, components, build)

    def _build(self, folder: Path, key: str, components: dict[str, Any], build: Builder) -> Artifact:
        make_dirs(folder.parent)
        for stale in folder.parent.glob(f".{folder.name}.tmp-*"):
            if is_debris(stale):
                shutil.rmtree(stale, ignore_errors=True)
        tmp = folder.parent / owned_name(f".{folder.name}.tmp-")
        tmp.mkdir()
        try:
            meta = build(tmp)
            meta = {**meta, "key": key, "components": components, "sha256": file_sha256(tmp / GRAPH),
                    "bytes": (tmp / GRAPH).stat().st_size, "created_at": dt.datetime.now(dt.UTC).isoformat()}
            (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str), "utf-8")
            if folder.exists():  # a corrupt earlier copy
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(tmp)
        return Artifact(folder=folder, key=key, meta=meta)
