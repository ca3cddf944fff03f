"""One loaded encoder per (model, backend) per process, with the torch fallback.

A backend that cannot serve a model — its runtime missing, the model not exportable,
the export not reproducing the torch model — falls back to torch with the reason, which
the manifest records (``backend.name`` is what ran, ``backend.requested`` what was asked
for). A model that cannot load at all still raises :class:`~..models.ModelUnavailable`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from ..models import ModelUnavailable, ResolvedModel, load_dense_model, load_sparse_model
from .loader import Kind, LoadedBackend, version
from .probes import agreement, encode_probes
from .spec import BackendName, ProbeAgreement, backend_spec, torch_info

log = logging.getLogger(__name__)
_LOADED: dict[tuple[Any, ...], LoadedBackend] = {}
_TORCH: dict[tuple[str, str], Any] = {}
_LOCK = threading.RLock()
_LOADS = [0]


def loads_in_process() -> int:
    """How many encoders :func:`load_encoder` has loaded in this process."""
    return _LOADS[0]


def default_threads() -> int:
    """The worker's thread setting: torch's (``OMP_NUM_THREADS`` or the physical cores)."""
    import torch

    return int(torch.get_num_threads())


def torch_model(kind: Kind, resolved: ResolvedModel) -> Any:
    """The torch model of ``resolved`` on the CPU, loaded once per process."""
    key = (kind, resolved.location)
    with _LOCK:
        if key not in _TORCH:
            loader = load_dense_model if kind == "dense" else load_sparse_model
            _TORCH[key] = loader(resolved, "cpu")
        return _TORCH[key]


def _torch_backend(kind: Kind, resolved: ResolvedModel, requested: BackendName,
                   reason: str | None = None) -> LoadedBackend:
    model = torch_model(kind, resolved)
    return LoadedBackend(model=model, reference=None, info=torch_info(
        version("torch"), requested=requested, threads=default_threads(), fallback_reason=reason))


def load_encoder(kind: Kind, resolved: ResolvedModel, backend: str, *, cache_root: Path,
                 threads: int | None = None) -> LoadedBackend:
    """``resolved`` on ``backend`` (torch when the backend cannot serve it)."""
    spec = backend_spec(backend)
    threads = threads or default_threads()
    key = (kind, resolved.location, spec.name, str(cache_root), threads)
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        log.info("loading %s model %s on %s", kind, resolved.ref, spec.name)
        if spec.is_torch:
            loaded = _torch_backend(kind, resolved, spec.name)
        else:
            loaded = guarded(kind, resolved, _onnx_or_torch(kind, resolved, spec.name, cache_root, threads),
                             cache_root)
        _LOADED[key] = loaded
        _LOADS[0] += 1
        return loaded


def guarded(kind: Kind, resolved: ResolvedModel, loaded: LoadedBackend, cache_root: Path,
            tolerance: dict[str, float] | None = None) -> LoadedBackend:
    """A reduced-precision encoder whose probe vectors miss their tolerance on this machine
    (int8 kernels differ between CPUs) is replaced by the fp32 graph, with the reason."""
    if loaded.info.precision == "fp32" or loaded.reference is None:
        return loaded
    was = str(getattr(loaded.model, "device", "cpu"))
    got = encode_probes(loaded.model.to("cpu"), kind)
    loaded.model.to(was)
    loaded.probe = agreement(got, loaded.reference, kind, loaded.info.precision, tolerance)
    loaded.probed = True
    if loaded.probe.passed:
        return loaded
    reason = (f"{loaded.info.name} vectors of {resolved.ref} miss the probe tolerance on this machine "
              f"({loaded.probe.model_dump(exclude_none=True, include=set(loaded.probe.tolerance))})")
    log.warning("%s; encoding with onnx (fp32)", reason)
    fallback = _onnx_or_torch(kind, resolved, "onnx", cache_root, loaded.info.threads or default_threads())
    info = fallback.info.model_copy(update={"requested": loaded.info.requested,
                                            "fallback_reason": fallback.info.fallback_reason or reason})
    return LoadedBackend(model=fallback.model, info=info, reference=fallback.reference)


def _onnx_or_torch(kind: Kind, resolved: ResolvedModel, name: BackendName, cache_root: Path,
                   threads: int) -> LoadedBackend:
    try:
        from .loader import OnnxModels

        return OnnxModels(cache_root, threads).load(kind, resolved, backend_spec(name))
    except ModelUnavailable:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the fast path falls back to torch
        reason = f"{name} unavailable for {resolved.ref}: {type(exc).__name__}: {str(exc)[:300]}"
        log.warning("%s; encoding with torch", reason)
        return _torch_backend(kind, resolved, name, reason)


def probe_agreement(kind: Kind, loaded: LoadedBackend) -> ProbeAgreement | None:
    """The loaded backend's probe vectors against the torch reference (None for torch,
    which is the reference); measured once per loaded encoder."""
    if loaded.reference is None:
        return None
    with _LOCK:
        if not loaded.probed:
            was = str(getattr(loaded.model, "device", "cpu"))
            got = encode_probes(loaded.model.to("cpu"), kind)
            loaded.model.to(was)
            loaded.probe, loaded.probed = agreement(got, loaded.reference, kind, loaded.info.precision), True
        return loaded.probe
