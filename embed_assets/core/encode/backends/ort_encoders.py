"""Encoders that run an exported graph in ONNX Runtime behind the sentence-transformers
``encode`` API the pipeline uses (see :mod:`.base`).

Texts are tokenized as sentence-transformers tokenizes them (stripped, lower-cased when
the model says so, truncated to its limit) by the model's own fast tokenizer, sorted by
length, split into runtime calls of at most ``max_batch`` texts padded to their own
longest, and put back in input order. ``max_batch`` is 1 for dynamically quantized graphs,
so a text's vector never depends on its batch-mates (the embedding cache relies on that).

On a CUDA device the encoder switches to the float16 graph on the CUDA execution
provider; this path needs onnxruntime-gpu and has not been run on a device here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import BackendUnavailable

GraphFor = Callable[[str], Path]
"""The graph file for a device: the fp32/int8 graph for ``"cpu"``, the fp16 one for CUDA."""


def make_session(path: Path, threads: int, device: str = "cpu") -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle pool threads sleep instead of spinning: on a shared host (other steps, other runs)
    # spinning threads steal the cores the work needs. Measured at 2 threads with the cores
    # oversubscribed: fp32 1.38x -> 1.77x torch, int8 2.34x -> 3.43x; on an idle host it costs
    # 5-20%.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers: list[Any] = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise BackendUnavailable("the CUDA execution provider is not installed (onnxruntime-gpu)")
        index = int(device.partition(":")[2] or 0)
        providers = [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def _fast_tokenizer(tokenizer: Any, max_length: int) -> Any:
    """A private copy of the model's Rust tokenizer: no padding, truncation at the model limit."""
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise BackendUnavailable("the model has no fast tokenizer to feed the graph with")
    fast = Tokenizer.from_str(backend.to_str())
    fast.no_padding()
    fast.enable_truncation(max_length=max_length)
    return fast


def _is_oom(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return "out of memory" in msg or "failed to allocate memory" in msg


class OnnxEncoder:
    """The shared part: tokenization, length-sorted runtime calls, device placement."""

    def __init__(self, *, graph_for: GraphFor, tokenizer: Any, max_seq_length: int, dim: int, threads: int,
                 max_batch: int | None, lowercase: bool = False, parameter_count: int = 0) -> None:
        self.graph_for = graph_for
        self.tokenizer = tokenizer
        self.max_seq_length = int(max_seq_length)
        self.dim = int(dim)
        self.threads = threads
        self.max_batch = max_batch
        self.lowercase = lowercase
        self.parameter_count = parameter_count
        self._fast = _fast_tokenizer(tokenizer, self.max_seq_length)
        self._sessions: dict[str, Any] = {}
        self._device = "cpu"
        self.session("cpu")

    # -- placement -----------------------------------------------------------
    @property
    def device(self) -> str:
        return self._device

    def to(self, device: Any) -> OnnxEncoder:
        self._device = "cpu" if str(device).startswith("cpu") else str(device)
        return self

    def session(self, device: str) -> Any:
        if device not in self._sessions:
            self._sessions[device] = make_session(self.graph_for(device), self.threads, device)
        return self._sessions[device]

    def get_embedding_dimension(self) -> int:
        return self.dim

    # -- encoding ------------------------------------------------------------
    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        cleaned = [str(t).strip() for t in texts]
        if self.lowercase:
            cleaned = [t.lower() for t in cleaned]
        return [e.ids for e in self._fast.encode_batch(cleaned)]

    def _feeds(self, rows: list[list[int]], names: set[str]) -> dict[str, np.ndarray]:
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return feeds

    def run(self, texts: Sequence[str], max_batch: int | None = None) -> np.ndarray:
        """(len(texts), width) float32 graph outputs in input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not len(texts):
            return out
        session = self.session(self._device)
        names = {i.name for i in session.get_inputs()}
        rows = self._token_ids(texts)
        order = np.argsort([-len(r) for r in rows], kind="stable")
        # On a GPU the batch is the adaptive batcher's (bounded by the VRAM budget); on a CPU
        # small calls are faster, and int8 must run one text per call.
        cap = max_batch or (self.max_batch if self._device == "cpu" else None)
        step = max(1, cap or len(rows))
        for begin in range(0, len(order), step):
            picked = order[begin:begin + step]
            try:
                out[picked] = session.run(None, self._feeds([rows[i] for i in picked], names))[0]
            except Exception as exc:
                if _is_oom(exc):
                    raise MemoryError(f"{self._device} out of memory in the ONNX Runtime session") from exc
                raise
        return out

    @staticmethod
    def _convert(matrix: np.ndarray, *, tensor: bool, sparse: bool = False) -> Any:
        if not (tensor or sparse):
            return matrix
        import torch

        out = torch.from_numpy(matrix)
        return out.to_sparse() if sparse else out


class OnnxDenseModel(OnnxEncoder):
    """A dense model's graph: L2-normalized sentence embeddings."""

    def encode(self, sentences: Sequence[str] | str, *, batch_size: int = 32, normalize_embeddings: bool = True,
               convert_to_numpy: bool = True, convert_to_tensor: bool = False, **_: Any) -> Any:
        single = isinstance(sentences, str)
        vectors = self.run([sentences] if single else list(sentences))  # the graph normalizes
        vectors = vectors[0] if single else vectors
        return self._convert(vectors, tensor=convert_to_tensor)


class OnnxSparseModel(OnnxEncoder):
    """A SPLADE model's graph: pooled (batch × vocabulary) vectors."""

    def encode(self, sentences: Sequence[str] | str, *, batch_size: int = 32, convert_to_tensor: bool = True,
               convert_to_sparse_tensor: bool = True, **_: Any) -> Any:
        single = isinstance(sentences, str)
        vectors = self.run([sentences] if single else list(sentences))
        vectors = vectors[0] if single else vectors
        return self._convert(vectors, tensor=convert_to_tensor, sparse=convert_to_sparse_tensor and not single)

    def encode_query(self, sentences: Sequence[str] | str, **options: Any) -> Any:
        return self.encode(sentences, **options)

    def encode_document(self, sentences: Sequence[str] | str, **options: Any) -> Any:
        return self.encode(sentences, **options)
