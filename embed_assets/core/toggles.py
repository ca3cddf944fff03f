"""One resolver decides whether the sparse stage runs, and records which setting won.

Precedence: CLI > run config > environment (``EMBED_ASSETS_SPARSE``) > default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .manifest import ToggleDecision, ToggleSource

SPARSE_ENV = "EMBED_ASSETS_SPARSE"
SPARSE_DEFAULT = True
_TRUE = {"1", "true", "yes", "on", "enable", "enabled"}
_FALSE = {"0", "false", "no", "off", "disable", "disabled"}


def parse_flag(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"{where}={value!r} is not a switch; use one of {sorted(_TRUE | _FALSE)}")


def resolve_sparse(
    cli: bool | None = None,
    run_config: bool | None = None,
    environ: Mapping[str, str] | None = None,
    default: bool = SPARSE_DEFAULT,
) -> ToggleDecision:
    env = os.environ if environ is None else environ
    raw = env.get(SPARSE_ENV)
    from_env = parse_flag(raw, SPARSE_ENV) if raw not in (None, "") else None
    requested: dict[str, bool | None] = {"cli": cli, "run_config": run_config, "environment": from_env,
                                         "default": default}
    source: ToggleSource
    for source in ("cli", "run_config", "environment"):  # type: ignore[assignment]
        if requested[source] is not None:
            return ToggleDecision(enabled=bool(requested[source]), decided_by=source, requested=requested)
    return ToggleDecision(enabled=default, decided_by="default", requested=requested)
