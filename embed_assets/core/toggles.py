"""One resolver decides whether the sparse stage runs, and records which setting won.

Precedence: CLI > run config > environment (``EMBED_ASSETS_SPARSE``, read by
:mod:`embed_assets.core.settings`) > default.
"""

from __future__ import annotations

from .manifest.models import ToggleDecision, ToggleSource

SPARSE_DEFAULT = True


def resolve_sparse(cli: bool | None = None, run_config: bool | None = None, environment: bool | None = None,
                   default: bool = SPARSE_DEFAULT) -> ToggleDecision:
    requested: dict[str, bool | None] = {"cli": cli, "run_config": run_config, "environment": environment,
                                         "default": default}
    source: ToggleSource
    for source in ("cli", "run_config", "environment"):  # type: ignore[assignment]
        if requested[source] is not None:
            return ToggleDecision(enabled=bool(requested[source]), decided_by=source, requested=requested)
    return ToggleDecision(enabled=default, decided_by="default", requested=requested)
