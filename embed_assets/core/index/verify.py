"""Does an index version hold what its export says? Point count, schema, and a sample of
points compared vector by vector with the export's rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, Field

from .points import ExportRows
from .store import IndexSchema, StoredPoint
from .target import IndexTarget

SAMPLE = 32
TOLERANCE = 1e-5


class IndexVerification(BaseModel):
    physical: str
    points: int
    export_rows: int
    index_schema: IndexSchema | None
    expected_schema: IndexSchema
    sampled: int
    problems: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def sample_rows(n: int, size: int = SAMPLE) -> list[int]:
    """Evenly spread rows, the first and the last included."""
    if n <= size:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, size)})


def _point_problems(rows: ExportRows, i: int, stored: StoredPoint | None) -> list[str]:
    chunk = rows.columns["chunk_id"][i]
    if stored is None:
        return [f"chunk {chunk}: missing from the index"]
    expected = rows.point(i, rows.fingerprint(i), "")
    problems = []
    if stored.dense is None or not np.allclose(stored.dense, expected.dense, atol=TOLERANCE, rtol=0):
        problems.append(f"chunk {chunk}: the dense vector differs from the export's")
    for name in rows.schema.sparse:
        want, got = expected.sparse.get(name), stored.sparse.get(name)
        same = (want is None and (got is None or not got.indices)) or (
            want is not None and got is not None and list(got.indices) == list(want.indices)
            and np.allclose(got.values, want.values, atol=TOLERANCE, rtol=0))
        if not same:
            problems.append(f"chunk {chunk}: the {name} vector differs from the export's")
    for key in ("chunk_id", "doc_id", "fingerprint"):
        if stored.payload.get(key) != expected.payload.get(key):
            problems.append(f"chunk {chunk}: payload {key} differs from the export's")
    return problems


def verify_index(target: IndexTarget, collection: str, physical: str, table: pa.Table, manifest: dict[str, Any],
                 with_text: bool = False, sample: int = SAMPLE, wait_s: float = 30.0) -> IndexVerification:
    """Compare the index version ``physical`` (a version folder or server collection) with
    the export it was written from."""
    expected = IndexSchema.from_manifest(manifest)
    rows = ExportRows(table, expected, with_text)
    picks = sample_rows(len(rows), sample)
    with target.reader(collection, wait_s=wait_s, version=physical) as reader:
        description = reader.store.describe()
        stored = {p.point_id: p for p in reader.store.retrieve([rows.point_ids[i] for i in picks])}
    problems = []
    if description.points != len(rows):
        problems.append(f"the index holds {description.points} points, the export {len(rows)} rows")
    if description.index_schema != expected:
        problems.append(f"the index schema {description.index_schema} is not the manifest's {expected}")
    for i in picks:
        problems += _point_problems(rows, i, stored.get(rows.point_ids[i]))
    return IndexVerification(physical=physical, points=description.points, export_rows=len(rows),
                             index_schema=description.index_schema, expected_schema=expected, sampled=len(picks),
                             problems=problems)
