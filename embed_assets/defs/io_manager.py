"""Stores every asset's partition as one Parquet file, written atomically.

Nothing is pickled: a stored output is an Arrow table readable by pandas or pyarrow.
An input declared with ``metadata=LOAD_ENVELOPE`` loads only the stage's typed envelope
from the file's schema metadata, not the rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from embed_assets.core.manifest.envelopes import read_any_envelope
from embed_assets.core.storage.files import atomic_write_parquet

LOAD_KEY = "embed_assets/load"
LOAD_ENVELOPE = {LOAD_KEY: "envelope"}


class ParquetIOManager(dg.ConfigurableIOManager):
    base_dir: str

    def _path(self, context: dg.OutputContext | dg.InputContext) -> Path:
        key = context.asset_key.path
        partition = context.asset_partition_key if context.has_asset_partitions else "__all__"
        return Path(self.base_dir).joinpath(*key) / f"{partition}.parquet"

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if not isinstance(obj, pa.Table):
            raise TypeError(f"{context.asset_key.to_user_string()} returned {type(obj).__name__}; "
                            "this IO manager stores Arrow tables only")
        path = self._path(context)
        atomic_write_parquet(path, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        path = self._path(context)
        if not path.exists():
            raise dg.Failure(f"{context.asset_key.to_user_string()} has no stored output for "
                             f"partition {path.stem!r}; materialize it first")
        if (context.definition_metadata or {}).get(LOAD_KEY) == "envelope":
            return read_any_envelope(pq.read_schema(path))
        return pq.read_table(path)
