"""Checks that run before any embedding work, so a bad setting fails in a second with its
real cause instead of minutes later inside a stage."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from .encode.models import ModelUnavailable, require_safetensors, resolve_model


class Preflight(BaseModel):
    errors: list[str] = Field(default_factory=list, description="Reasons not to start.")
    warnings: list[str] = Field(default_factory=list, description="Worth saying; the run can go on.")


def writable_problem(folder: Path) -> str | None:
    """Why ``folder`` (created if missing) cannot take new files, or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".embed_assets-probe-", dir=folder)
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
    except OSError as exc:
        return f"{folder} is not writable ({type(exc).__name__}: {exc.strerror or exc})"
    return None


def model_problem(ref: str) -> str | None:
    try:
        require_safetensors(resolve_model(ref).location)
    except ModelUnavailable as exc:
        return str(exc)
    return None


def preflight(export_root: Path, dense_refs: Sequence[str], sparse_ref: str | None,
              model_cache: Path | None = None) -> Preflight:
    """The export root takes files and every dense model resolves (errors); the sparse model
    resolves (a warning: the sparse stage falls back to metadata-derived vectors); the model
    cache, when an ONNX backend needs one, takes files (a warning: the encoders run on torch)."""
    out = Preflight()
    cache = writable_problem(model_cache) if model_cache is not None else None
    if cache:
        out.warnings.append(f"model cache: {cache}; encoders will run on torch")
    problem = writable_problem(export_root)
    if problem:
        out.errors.append(f"export root: {problem}")
    out.errors += [f"dense model: {p}" for p in (model_problem(r) for r in dense_refs) if p]
    sparse = model_problem(sparse_ref) if sparse_ref else None
    if sparse:
        out.warnings.append(f"sparse model: {sparse}; the sparse stage will use metadata-derived vectors")
    return out
