"""Exporting a loaded torch encoder to an ONNX graph whose output is the finished vector.

Dense: the whole sentence-transformers pipeline (transformer, pooling, any dense layers)
and an L2 normalization, so the graph returns what ``encode(normalize_embeddings=True)``
returns. Sparse (SPLADE): the masked-LM, then the max over the attention-masked tokens and
``log1p ∘ relu`` inside the graph, so only the pooled (batch × vocabulary) vectors leave the
runtime, never the (batch × sequence × vocabulary) logits. For BERT-style heads the padded
positions are given a copy of the [CLS] hidden state before the vocabulary head: a copy of
a real token cannot change a maximum, so the vocabulary-sized mask multiply disappears and
the head runs as one 2-D matrix product (this needs right padding, which is asserted).

torch is imported here, so this module is imported only when a graph must be built.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BackendUnavailable

OPSET = 17
EXPORTER = "torchscript"
# Bumped whenever a wrapper below changes: part of the model cache key.
DENSE_RECIPE = "dense-st-pipeline-l2/1"
SPARSE_RECIPE = "splade-max-log1p-relu-clsfill/1"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
DENSE_OUTPUT = "sentence_embedding"
SPARSE_OUTPUT = "sparse_embedding"
_SUPPORTED_DENSE = {"Transformer", "Pooling", "Normalize", "Dense"}


class DenseGraph(nn.Module):
    """A SentenceTransformer's modules, then an L2 normalization."""

    def __init__(self, model: Any, input_names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        features = self.model(dict(zip(self.input_names, inputs)))
        return F.normalize(features["sentence_embedding"], p=2.0, dim=1)


class SpladeGraph(nn.Module):
    """A masked-LM's SPLADE vectors: max over valid tokens of log1p(relu(logits))."""

    def __init__(self, mlm: Any, input_names: tuple[str, ...], extra_log: bool) -> None:
        super().__init__()
        self.mlm = mlm
        self.input_names = input_names
        self.extra_log = extra_log
        prefix = getattr(mlm, "base_model_prefix", "")
        self.encoder = getattr(mlm, prefix, None) if hasattr(mlm, "cls") else None
        self.head = getattr(mlm, "cls", None)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        feeds = dict(zip(self.input_names, inputs))
        mask = feeds["attention_mask"].unsqueeze(-1).bool()
        if self.encoder is not None and self.head is not None:
            hidden = self.encoder(**feeds).last_hidden_state
            hidden = torch.where(mask, hidden, hidden[:, :1, :])  # padding := the row's [CLS] state
            b, s, d = hidden.shape
            pooled = self.head(hidden.reshape(b * s, d)).reshape(b, s, -1).amax(dim=1)
        else:  # any other masked-LM head: mask the logits themselves
            logits = self.mlm(**feeds).logits
            pooled = logits.masked_fill(~mask, float("-inf")).amax(dim=1)
        pooled = torch.log1p(torch.relu(pooled))
        return torch.log1p(pooled) if self.extra_log else pooled


def _input_names(tokenizer: Any) -> tuple[str, ...]:
    names = tuple(n for n in INPUTS if n in getattr(tokenizer, "model_input_names", INPUTS))
    if "input_ids" not in names or "attention_mask" not in names:
        raise BackendUnavailable(f"the tokenizer's inputs {names} lack input_ids or attention_mask")
    return names


def _refuse_prompts(model: Any) -> None:
    prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
    if prompts or getattr(model, "default_prompt_name", None):
        raise BackendUnavailable(f"the model uses prompts ({', '.join(sorted(prompts)) or 'a default prompt'}), "
                                 "which the exported graph does not apply")


def dense_graph(model: Any) -> tuple[nn.Module, tuple[str, ...]]:
    """The export wrapper of a loaded SentenceTransformer."""
    kinds = {type(m).__name__ for m in model}
    if not kinds <= _SUPPORTED_DENSE:
        raise BackendUnavailable(f"dense modules {sorted(kinds - _SUPPORTED_DENSE)} are not exportable here")
    _refuse_prompts(model)
    names = _input_names(model.tokenizer)
    return DenseGraph(model, names).eval(), names


def sparse_graph(model: Any) -> tuple[nn.Module, tuple[str, ...]]:
    """The export wrapper of a loaded SPLADE SparseEncoder (a masked-LM and max pooling)."""
    modules = list(model)
    if len(modules) != 2 or not hasattr(modules[0], "auto_model") or \
            getattr(modules[1], "pooling_strategy", None) != "max":
        raise BackendUnavailable(f"sparse modules {[type(m).__name__ for m in modules]} are not a masked-LM "
                                 "with SPLADE max pooling")
    _refuse_prompts(model)
    if getattr(model.tokenizer, "padding_side", "right") != "right":
        raise BackendUnavailable("the SPLADE graph needs a right-padding tokenizer")
    activation = getattr(modules[1], "activation_function", "relu")
    if activation not in ("relu", "log1p_relu"):
        raise BackendUnavailable(f"SPLADE activation {activation!r} is not supported")
    names = _input_names(model.tokenizer)
    return SpladeGraph(modules[0].auto_model, names, extra_log=activation == "log1p_relu").eval(), names


def _eager_attention(module: nn.Module) -> None:
    """Trace attention as plain operations (what every runtime optimizes best)."""
    for sub in module.modules():
        config = getattr(sub, "config", None)
        if config is not None and hasattr(config, "_attn_implementation"):
            try:
                config._attn_implementation = "eager"
            except Exception:  # noqa: BLE001 - some configs refuse; their default traces too
                pass


def export_graph(module: nn.Module, names: tuple[str, ...], tokenizer: Any, output: str, dest: Path) -> float:
    """Trace ``module`` into ``dest`` with dynamic batch and sequence axes; the seconds it took."""
    sample = tokenizer(["an example sentence to trace the graph with", "a shorter one"], padding=True,
                       return_tensors="pt")
    inputs = tuple(sample[n] if n in sample else torch.zeros_like(sample["input_ids"]) for n in names)
    axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    axes[output] = {0: "batch"}
    _eager_attention(module)
    started = time.perf_counter()
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant-folded shape checks
        torch.onnx.export(module, inputs, str(dest), input_names=list(names), output_names=[output],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return time.perf_counter() - started
