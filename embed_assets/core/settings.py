"""The one place that reads the environment.

Every ``EMBED_ASSETS_*`` variable (and ``DAGSTER_HOME``, ``OTEL_TRACES_EXPORTER``) is
parsed and validated here, once, into :class:`Settings`; everything else receives
values. Where things live by default: the project home, the data root under it, the
exports and intermediate storage under the data root, and the Dagster home.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DENSE_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SPARSE_MODEL = "splade-tiny"
# What runs the encoders (see README, "Encoder backends"). The default was chosen from
# measurements (docs/backends.md): int8 is several times faster than torch on CPUs and costs
# under 1 % nDCG@10 on the labelled set, the bar it had to clear.
EncoderBackend = Literal["torch", "onnx", "onnx-int8"]
DEFAULT_ENCODER_BACKEND: EncoderBackend = "onnx-int8"
# The variable holding the server's API key; Dagster resources refer to it by this name.
QDRANT_API_KEY_VARIABLE = "EMBED_ASSETS_QDRANT_API_KEY"
_CHECKOUT = Path(__file__).resolve().parents[2]
_TRUE = {"1", "true", "yes", "on", "enable", "enabled"}
_FALSE = {"0", "false", "no", "off", "disable", "disabled"}


def parse_flag(value: str, where: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"{where}={value!r} is not a switch; use one of {sorted(_TRUE | _FALSE)}")


class DenseModelRef(BaseModel):
    """One member of the dense ensemble as configured: a model reference and its weight."""

    ref: str = Field(default=DEFAULT_DENSE_MODEL, min_length=1)
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)


def parse_dense_models(raw: str) -> list[DenseModelRef]:
    """``"ref[:weight],ref[:weight]"``; default: the packaged MiniLM. A suffix after the last
    colon that reads as a number is the weight and must be finite and positive."""
    out = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        ref, sep, weight = item.rpartition(":")
        try:
            value = float(weight) if sep else None
        except ValueError:  # a colon that is part of the reference, not a weight
            value = None
        if value is None:
            out.append(DenseModelRef(ref=item))
            continue
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"dense model {ref!r}: weight {weight!r} must be a finite number above 0")
        out.append(DenseModelRef(ref=ref, weight=value))
    return out or [DenseModelRef()]


class Settings(BaseSettings):
    """``EMBED_ASSETS_<FIELD>`` for every field unless another variable is named."""

    model_config = SettingsConfigDict(env_prefix="EMBED_ASSETS_", extra="ignore", populate_by_name=True)

    home: Path | None = Field(default=None, description="Folder of the embedded defaults (data/, .dagster/).")
    data_root: Path | None = Field(default=None, description="Folder holding collections/; default <home>/data.")
    export_root: Path | None = Field(default=None, description="Where exports land; default <data_root>/exports.")
    sparse: bool | None = Field(default=None, description="Sparse stage on/off (ranked below CLI and run config).")
    lexical: bool | None = Field(default=None, description="Also export lexical vectors (unset: off).")
    dense_models: str = Field(default="", description='The dense ensemble: "ref[:weight],ref[:weight]".')
    sparse_model: str = Field(default=DEFAULT_SPARSE_MODEL, min_length=1)
    sparse_on_gpu: bool = Field(default=False, description="Let the sparse stage hydrate to a leased GPU.")
    encoder_backend: EncoderBackend = Field(
        default=DEFAULT_ENCODER_BACKEND, description="What runs the encoders: torch, onnx (fp32, lossless) or onnx-int8 (default).")
    dense_backend: EncoderBackend | None = Field(
        default=None, description="The dense models' backend (unset: encoder_backend).")
    sparse_backend: EncoderBackend | None = Field(
        default=None, description="The SPLADE model's backend (unset: encoder_backend).")
    encoder_threads: int | None = Field(default=None, ge=1, description="Threads per ONNX Runtime session "
                                                                        "(unset: torch's thread count).")
    model_cache: Path | None = Field(default=None, description="Exported and quantized graphs; default "
                                                               "$XDG_CACHE_HOME/embed_assets/models.")
    xdg_cache_home: Path | None = Field(default=None, validation_alias=AliasChoices("XDG_CACHE_HOME"))
    automation: bool = Field(default=True, description="The change sensor starts running (new and changed "
                                                       "collections are materialized without a human).")
    strict_sparse: bool = Field(default=False, description="A sparse fallback past the threshold fails the run "
                                                           "(default: published, the check warns).")
    simulated_gpu: str = Field(default="", description="Spec of the simulated GPU device; empty: none.")
    executor: Literal["in_process", "multiprocess", "celery", "k8s"] = Field(
        default="in_process", description="Where a run's steps execute: this process, a process per step, Celery "
                                          "workers (a broker) or Kubernetes jobs.")
    celery_broker: str = Field(default="redis://localhost:6379/0", min_length=1,
                               description="Broker URL of the Celery executor and its workers.")
    celery_backend: str = Field(default="redis://localhost:6379/1", min_length=1,
                                description="Result backend URL of the Celery executor and its workers.")
    k8s_gpu_step: dict[str, Any] | None = Field(
        default=None, description="Kubernetes config of GPU step pods (JSON: container_config, pod_spec_config, "
                                  "...); default: one nvidia.com/gpu and the nvidia.com/gpu toleration.")
    shards: int = Field(default=1, ge=1, le=4096, description="Shards per collection for the dense and sparse "
                                                               "stages (ranked below the CLI flag and run config).")
    gpu_ledger_dir: Path | None = Field(default=None, description="Folder of the host's VRAM lease ledger (local "
                                                                  "disk); default $DAGSTER_HOME/gpu_leases.")
    dagster_home: Path | None = Field(default=None, validation_alias=AliasChoices("DAGSTER_HOME"))
    crash_at: str = Field(default="", description="Test hook: SIGKILL this process at the named publishing point.")
    fail_at: str = Field(default="", description="Test hook: fail the named step (e.g. dense_shard:1) with an error.")
    otel_traces_exporter: Literal["", "none", "console", "otlp"] = Field(
        default="", validation_alias=AliasChoices("OTEL_TRACES_EXPORTER"))
    otel_service_name: str = Field(default="embed_assets", validation_alias=AliasChoices("OTEL_SERVICE_NAME"))
    index_root: Path | None = Field(default=None, description="Edge index folders; default <data_root>/index.")
    qdrant_url: str | None = Field(default=None, description="Publish to this Qdrant server (http(s)://) instead of "
                                                             "the embedded engine; file:/// for the client's local mode.")
    qdrant_api_key: SecretStr | None = Field(default=None, description="The server's API key; never logged or stored.")
    qdrant_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$",
                               description="Prepended to collection names on the server.")
    index_text: bool = Field(default=False, description="Store chunk text in the index payload.")
    index_lock_timeout_s: float = Field(default=60.0, ge=0, description="How long an index run waits for another.")

    @field_validator("qdrant_url", "qdrant_api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("index_text", mode="before")
    @classmethod
    def _text_switch(cls, value: Any) -> Any:
        return parse_flag(value, "EMBED_ASSETS_INDEX_TEXT") if isinstance(value, str) else value

    @field_validator("sparse", "lexical", "sparse_on_gpu", "strict_sparse", "automation", mode="before")
    @classmethod
    def _switch(cls, value: Any, info: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return cls.model_fields[info.field_name].default
            return parse_flag(value, f"EMBED_ASSETS_{info.field_name.upper()}")
        return value

    @field_validator("dense_backend", "sparse_backend", "encoder_threads", "model_cache", "xdg_cache_home",
                     mode="before")
    @classmethod
    def _unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("encoder_backend", "dense_backend", "sparse_backend", mode="before")
    @classmethod
    def _backend(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("otel_traces_exporter", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("dense_models")
    @classmethod
    def _dense_models_parse(cls, value: str) -> str:
        parse_dense_models(value)
        return value

    @property
    def dense_model_refs(self) -> list[DenseModelRef]:
        return parse_dense_models(self.dense_models)

    @property
    def resolved_model_cache(self) -> Path:
        """Where exported graphs live: ``model_cache``, else the user's cache folder (shared by
        every data root, so a model is exported once per machine and runtime version)."""
        if self.model_cache is not None:
            return self.model_cache.expanduser().resolve()
        base = self.xdg_cache_home.expanduser() if self.xdg_cache_home else Path.home() / ".cache"
        return base.resolve() / "embed_assets" / "models"

    @property
    def project_home(self) -> Path:
        """``home`` when set; else the source checkout this package lives in (the folder with
        ``pyproject.toml``); else the current directory."""
        if self.home is not None:
            return self.home.expanduser().resolve()
        if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "embed_assets").is_dir():
            return _CHECKOUT
        return Path.cwd().resolve()

    @property
    def resolved_data_root(self) -> Path:
        return self.data_root.expanduser().resolve() if self.data_root else self.project_home / "data"

    def export_root_for(self, data_root: Path | None = None) -> Path:
        """The export root: ``export_root`` when set, else ``<data root>/exports``."""
        if self.export_root is not None:
            return self.export_root.expanduser().resolve()
        return (data_root or self.resolved_data_root) / "exports"

    def index_root_for(self, data_root: Path | None = None) -> Path:
        """The Edge index root: ``index_root`` when set, else ``<data root>/index``."""
        if self.index_root is not None:
            return self.index_root.expanduser().resolve()
        return (data_root or self.resolved_data_root) / "index"

    @property
    def resolved_dagster_home(self) -> Path:
        """The instance of the configured data root (see :meth:`dagster_home_for`)."""
        return self.dagster_home_for(self.resolved_data_root)

    def dagster_home_for(self, data_root: Path) -> Path:
        """``$DAGSTER_HOME`` when set; else one embedded SQLite instance per data root: the
        project's ``.dagster/`` for the default data root, ``<data root>/.dagster/`` for others
        (so a partition registered for one data root never shows in the UI of another)."""
        if self.dagster_home:
            return self.dagster_home.expanduser().resolve()
        if data_root.resolve() == (self.project_home / "data").resolve():
            return self.project_home / ".dagster"
        return data_root.resolve() / ".dagster"


def settings_errors(exc: ValidationError) -> list[str]:
    """A validation error as one line per bad variable, named as the user set it."""
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        alias = Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
        name = alias.choices[0] if isinstance(alias, AliasChoices) else f"EMBED_ASSETS_{field.upper()}"
        lines.append(f"{name}: {err['msg'].removeprefix('Value error, ')}")
    return lines


def get_settings(**overrides: Any) -> Settings:
    """The environment as it is now (read on every call, so a changed variable is seen)."""
    return Settings(**overrides)


def collections_dir(data_root: Path) -> Path:
    return data_root / "collections"


def storage_root(data_root: Path) -> Path:
    """Where the IO manager keeps each asset's Parquet output between steps."""
    return data_root / "storage"


def cache_root(data_root: Path) -> Path:
    """Where the embedding caches live, one folder per collection."""
    return data_root / "cache"
