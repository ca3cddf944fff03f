"""The index check's core: an index that matches its export passes; a tampered one fails."""

from __future__ import annotations

import pytest

from embed_assets.core.index.ids import point_id
from embed_assets.core.index.points import ExportRows
from embed_assets.core.index.store import IndexSchema
from embed_assets.core.index.sync import sync_index
from embed_assets.core.index.target import IndexTarget
from embed_assets.core.index.verify import sample_rows, verify_index

from .conftest import make_export, make_manifest

MANIFEST = make_manifest()


def test_samples_spread_over_the_rows() -> None:
    assert sample_rows(5, 32) == [0, 1, 2, 3, 4]
    picks = sample_rows(1000, 10)
    assert picks[0] == 0 and picks[-1] == 999 and len(picks) == 10


def test_an_index_that_matches_its_export_passes(target: IndexTarget) -> None:
    table = make_export(10)
    result = sync_index(target, "c", table, MANIFEST, "e1")
    check = verify_index(target, "c", result.physical, table, MANIFEST)
    assert check.passed and check.points == check.export_rows == 30 and check.sampled == 30


@pytest.mark.parametrize("tamper", ["delete", "vector", "schema"])
def test_a_tampered_index_fails(edge_target: IndexTarget, tamper: str) -> None:
    table = make_export(10)
    result = sync_index(edge_target, "c", table, MANIFEST, "e1")
    first = point_id(table.column("chunk_id")[0].as_py())
    with edge_target.reader("c") as reader:  # under the version's lock, as any opener
        if tamper == "delete":
            reader.store.delete([first])
        elif tamper == "vector":
            rows = ExportRows(table, IndexSchema.from_manifest(MANIFEST), with_text=False)
            point = rows.point(0, rows.fingerprint(0), "e1")
            reader.store.upsert([point.model_copy(update={"dense": -point.dense})])
        else:
            reader.store.ensure_schema(IndexSchema(dense_size=48, sparse=("splade",)))
    check = verify_index(edge_target, "c", result.physical, table, MANIFEST)
    expected = {"delete": "holds 29 points", "vector": "dense vector differs", "schema": "schema"}[tamper]
    assert not check.passed and any(expected in p for p in check.problems), check.problems
