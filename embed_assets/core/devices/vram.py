"""Deliberate over-estimates of a stage's VRAM, used to reserve room under the hard cap."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def parameter_count(model: Any) -> int:
    if model is None:
        return 0
    counted = getattr(model, "parameter_count", None)  # an exported graph records its own
    return int(counted) if counted is not None else sum(p.numel() for p in model.parameters())


def encoder_bytes(n_params: int, batch: int, seq: int, width: int) -> int:
    """fp32 weights plus activations of one batch (a deliberate over-estimate)."""
    return 4 * n_params + 4 * batch * seq * width * 16


def dense_stage_bytes(models: Iterable[tuple[Any, int]], batch: int, longest: int) -> int:
    """Every ensemble member (model, output width) with one batch of ``longest`` tokens."""
    return sum(encoder_bytes(parameter_count(model), batch, longest, width) for model, width in models)


def sparse_stage_bytes(model: Any, batch: int, longest: int, vocab: int) -> int:
    """The encoder plus the batch × sequence × vocabulary logits of a masked-LM head."""
    return encoder_bytes(parameter_count(model), batch, longest, 128) + 4 * batch * longest * vocab
