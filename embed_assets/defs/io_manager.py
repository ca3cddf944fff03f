"""Stores every asset's partition as one Parquet file, written atomically.

Nothing is pickled: a stored output is an Arrow table readable by pandas or pyarrow.
An input declared with ``metadata=LOAD_ENVELOPE`` loads only the stage's typed envelope
from the file's schema metadata, not the rows.

Outputs of the ops inside a sharded asset (shard plans, shard tables) are not assets: they
are stored per run and step under ``.steps/<partition>/<run id>/``, as Parquet (tables) or
JSON (pydantic models), so a re-execution from failure loads the outputs of the steps that
succeeded in the run it re-executes. Every worker must see the same base folder (one host,
or a shared volume).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from embed_assets.core.manifest.envelopes import read_any_envelope
from embed_assets.core.storage.files import atomic_write_parquet, atomic_write_text

LOAD_KEY = "embed_assets/load"
LOAD_ENVELOPE = {LOAD_KEY: "envelope"}
STEP_OUTPUTS = ".steps"


def step_outputs_folder(base_dir: Path, partition: str) -> Path:
    """Where the op outputs of one partition's runs are kept (one folder per run)."""
    return base_dir / STEP_OUTPUTS / partition


def _safe(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9._\-\[\]]", "_", part)


class ParquetIOManager(dg.ConfigurableIOManager):
    base_dir: str

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key.path
        partition = context.asset_partition_key if context.has_asset_partitions else "__all__"
        return Path(self.base_dir).joinpath(*key) / f"{partition}.parquet"

    def _step_path(self, context: dg.OutputContext | dg.InputContext, identifier: list[str], suffix: str) -> Path:
        """An op output's file: the partition, then run id, step key, output name and mapping key."""
        run_id, *rest = identifier
        partition = context.partition_key if context.has_partition_key else "__all__"
        return step_outputs_folder(Path(self.base_dir), partition) / run_id / ("__".join(map(_safe, rest)) + suffix)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not context.has_asset_key:
            self._handle_step_output(context, obj)
            return
        if not isinstance(obj, pa.Table):
            raise TypeError(f"{context.asset_key.to_user_string()} returned {type(obj).__name__}; "
                            "this IO manager stores Arrow tables only")
        path = self._path(context)
        atomic_write_parquet(path, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def _handle_step_output(self, context: dg.OutputContext, obj: Any) -> None:
        if isinstance(obj, pa.Table):
            atomic_write_parquet(self._step_path(context, context.get_identifier(), ".parquet"), obj)
        elif isinstance(obj, BaseModel):
            atomic_write_text(self._step_path(context, context.get_identifier(), ".json"), obj.model_dump_json())
        else:
            raise TypeError(f"step {context.step_key} returned {type(obj).__name__}; this IO manager stores "
                            "Arrow tables and pydantic models only")

    def load_input(self, context: dg.InputContext) -> Any:
        if not context.has_asset_key:
            return self._load_step_output(context)
        path = self._path(context)
        if not path.exists():
            raise dg.Failure(f"{context.asset_key.to_user_string()} has no stored output for "
                             f"partition {path.stem!r}; materialize it first")
        if (context.definition_metadata or {}).get(LOAD_KEY) == "envelope":
            return read_any_envelope(pq.read_schema(path))
        return pq.read_table(path)

    def _load_step_output(self, context: dg.InputContext) -> Any:
        upstream = context.upstream_output
        assert upstream is not None
        identifier = upstream.get_identifier()
        table = self._step_path(context, identifier, ".parquet")
        if table.exists():
            return pq.read_table(table)
        model = self._step_path(context, identifier, ".json")
        if not model.exists():
            raise dg.Failure(f"step {identifier[1]} of run {identifier[0][:8]} left no stored output "
                             f"({model.parent}); re-execute the whole run")
        return context.dagster_type.typing_type.model_validate_json(model.read_text("utf-8"))
