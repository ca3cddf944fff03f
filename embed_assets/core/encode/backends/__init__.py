"""Encoder backends: the same models run by torch, or as exported graphs by ONNX Runtime
in fp32 or int8 (see README, "Encoder backends").

Importing this package imports no runtime; :mod:`.registry` loads encoders on demand.
"""

from .spec import BACKENDS, DEFAULT_BACKEND, BackendInfo, BackendName, BackendSpec, ProbeAgreement, backend_spec

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "BackendInfo", "BackendName", "BackendSpec", "ProbeAgreement",
           "backend_spec"]
