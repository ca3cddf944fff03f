"""Points from export rows: stable ids, validated vectors, fingerprints that change with content."""

from __future__ import annotations

import uuid

import numpy as np
import pyarrow as pa
import pytest

from embed_assets.core.index.ids import normalize_id, point_id
from embed_assets.core.index.points import ExportRows, InvalidVector, sparse_vector
from embed_assets.core.index.store import IndexSchema

from .conftest import DIM, make_export, make_manifest

SCHEMA = IndexSchema(dense_size=DIM, sparse=("splade", "lexical"))


def test_point_ids_are_stable_uuids_of_the_chunk_id() -> None:
    first = point_id("chunk-a")
    assert first == point_id("chunk-a") != point_id("chunk-b")
    assert uuid.UUID(first).version == 5
    assert normalize_id(uuid.UUID(first)) == first == normalize_id(first.upper())


@pytest.mark.parametrize(("indices", "values", "message"), [
    ([1, 2], [0.5], "2 indices but 1 values"),
    ([1, 1], [0.5, 0.2], "duplicate"),
    ([-1], [0.5], "outside"),
    ([2**32], [0.5], "outside"),
    ([3], [float("nan")], "not finite"),
])
def test_sparse_vectors_an_engine_would_mishandle_are_refused(indices: list[int], values: list[float],
                                                              message: str) -> None:
    with pytest.raises(InvalidVector, match=message):
        sparse_vector(np.asarray(indices, dtype=np.int64), np.asarray(values, dtype=np.float32), "chunk x")


def test_sparse_vectors_are_sorted() -> None:
    vector = sparse_vector(np.asarray([9, 3, 5]), np.asarray([0.9, 0.3, 0.5], dtype=np.float32), "chunk x")
    assert vector.indices == [3, 5, 9] and vector.values == pytest.approx([0.3, 0.5, 0.9])


def test_fingerprints_follow_content_not_row_order() -> None:
    table = make_export(5)
    base = ExportRows(table, SCHEMA, with_text=False).fingerprints()
    reordered = ExportRows(table.take(pa.array(list(reversed(range(table.num_rows))))), SCHEMA, False).fingerprints()
    assert base == reordered and len(set(base.values())) == len(base)
    other = make_export(5, seed=1).set_column(0, "chunk_id", table.column("chunk_id"))
    changed = ExportRows(other, SCHEMA, with_text=False).fingerprints()
    assert set(changed) == set(base) and all(changed[k] != base[k] for k in base)
    with_text = ExportRows(table, SCHEMA, with_text=True).fingerprints()
    assert all(with_text[k] != base[k] for k in base)  # storing text changes what a point holds


def test_points_carry_the_payload_and_leave_empty_sparse_vectors_out() -> None:
    table = make_export(2)
    column = table.column("lexical_indices").to_pylist()
    values = table.column("lexical_values").to_pylist()
    column[0], values[0] = [], []
    table = table.set_column(table.column_names.index("lexical_indices"), "lexical_indices",
                             pa.array(column, pa.list_(pa.int32())))
    table = table.set_column(table.column_names.index("lexical_values"), "lexical_values",
                             pa.array(values, pa.list_(pa.float32())))
    rows = ExportRows(table, SCHEMA, with_text=True)
    point = rows.point(0, rows.fingerprint(0), "v1")
    assert set(point.sparse) == {"splade"} and point.point_id == point_id(table.column("chunk_id")[0].as_py())
    assert point.payload["export_version"] == "v1" and point.payload["text"] == "text of chunk 0"
    assert {"chunk_id", "doc_id", "title", "source_path", "ordinal", "fingerprint"} <= set(point.payload)


def test_an_export_without_the_promised_columns_or_with_repeated_chunks_is_refused() -> None:
    with pytest.raises(InvalidVector, match="lacks the columns"):
        ExportRows(make_export(2, lexical=False), SCHEMA, with_text=False)
    twice = make_export(2)
    with pytest.raises(InvalidVector, match="repeats a chunk_id"):
        ExportRows(pa.concat_tables([twice, twice]), SCHEMA, with_text=False)
    with pytest.raises(InvalidVector, match="dims"):
        ExportRows(make_export(2, dim=8), SCHEMA, with_text=False)


def test_the_schema_comes_from_the_manifest() -> None:
    assert IndexSchema.from_manifest(make_manifest()) == SCHEMA
    assert IndexSchema.from_manifest(make_manifest(lexical=False)).sparse == ("splade",)
    assert IndexSchema.from_manifest(make_manifest(sparse=False)).vectors == ("dense",)
