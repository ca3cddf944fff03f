"""Incremental, exact index runs on both engines: create, unchanged, changes, deletions,
schema evolution, blue/green catch-up and a failed run that leaves the served version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from embed_assets.core.index.points import InvalidVector
from embed_assets.core.index.sync import sync_index
from embed_assets.core.index.target import IndexTarget

from .conftest import make_export, make_manifest, replace_rows

MANIFEST = make_manifest()


def _served(target: IndexTarget) -> tuple[int, dict[str, str], int]:
    with target.reader("c") as reader:
        assert reader.state is not None
        return reader.state.index_version, reader.store.fingerprints(), reader.store.count()


def test_first_run_creates_and_an_unchanged_run_writes_nothing(target: IndexTarget) -> None:
    table = make_export(10)
    first = sync_index(target, "c", table, MANIFEST, "e1")
    assert (first.upserted, first.deleted, first.written, first.points) == (30, 0, 30, 30)
    assert first.base.startswith("new")
    assert first.index_version == 1 and not first.unchanged and first.search == "exact"
    version, fingerprints, count = _served(target)
    again = sync_index(target, "c", table, MANIFEST, "e2")
    assert again.unchanged and (again.upserted, again.deleted, again.written) == (0, 0, 0)
    assert again.index_version == 1 and again.physical == first.physical
    assert _served(target) == (version, fingerprints, count)


def test_changed_new_and_removed_chunks_are_exactly_the_delta(target: IndexTarget) -> None:
    table = make_export(10)
    sync_index(target, "c", table, MANIFEST, "e1")
    changed = replace_rows(table.slice(0, table.num_rows - 4), [0, 5, 9], make_export(10, seed=7))
    grown = pa.concat_tables([changed, make_export(2, seed=3)])
    result = sync_index(target, "c", grown, MANIFEST, "e2")
    # 3 changed + 6 new; the 4 rows cut off the end are gone.
    assert (result.upserted, result.deleted, result.points) == (9, 4, 32)
    # Edge copies the served version and applies the delta; a server fills its second
    # collection from the export once (later runs reuse it as the standby).
    assert result.written == (13 if target.backend == "edge" else 32) and result.index_version == 2
    with target.reader("c") as reader:
        assert reader.store.count() == 32
        payloads = {p.payload["chunk_id"]: p.payload for p in reader.store.retrieve(
            [pid for pid in reader.store.fingerprints()])}
    if target.backend == "edge":  # points the delta did not touch keep the version they were written from
        assert {p["export_version"] for p in payloads.values()} == {"e1", "e2"}
    assert set(payloads) == set(grown.column("chunk_id").to_pylist())


def test_blue_green_catches_the_standby_up_and_reports_the_served_delta(edge_target: IndexTarget) -> None:
    base = make_export(10)
    sync_index(edge_target, "c", base, MANIFEST, "e1")
    second = replace_rows(base, [1, 2], make_export(10, seed=5))
    r2 = sync_index(edge_target, "c", second, MANIFEST, "e2")
    assert r2.base == "copy of v000001" and (r2.upserted, r2.written) == (2, 2)
    third = replace_rows(second, [3], make_export(10, seed=6))
    r3 = sync_index(edge_target, "c", third, MANIFEST, "e3")
    # The standby (version 1) also lacked the two chunks changed by the second run.
    assert r3.base == "standby v000001" and (r3.upserted, r3.deleted, r3.written) == (1, 0, 3)
    assert r3.physical == "v000003" and _served(edge_target)[2] == 30
    assert sorted(p.name for p in (edge_target.root / "c" / "versions").iterdir() if p.is_dir()) == [
        "v000002", "v000003"]


def test_a_server_standby_collection_is_reused_and_caught_up(tmp_path: Path) -> None:
    target = IndexTarget(root=tmp_path / "index", url=f"file://{tmp_path / 'qdrant'}", prefix="t_")
    base = make_export(6)
    sync_index(target, "c", base, MANIFEST, "e1")
    second = replace_rows(base, [1, 2], make_export(6, seed=5))
    assert sync_index(target, "c", second, MANIFEST, "e2").physical == "t_c--green"
    r3 = sync_index(target, "c", replace_rows(second, [3], make_export(6, seed=6)), MANIFEST, "e3")
    assert (r3.base, r3.physical, r3.upserted, r3.written) == ("standby t_c--blue", "t_c--blue", 1, 3)
    assert r3.collection_name == "t_c" and _served(target)[0] == 3


def test_a_new_sparse_vector_evolves_the_schema(target: IndexTarget) -> None:
    dense_splade = make_export(6, lexical=False)
    sync_index(target, "c", dense_splade, make_manifest(lexical=False), "e1")
    result = sync_index(target, "c", make_export(6), MANIFEST, "e2")
    assert result.upserted == 18 and result.points == 18
    with target.reader("c") as reader:
        assert reader.store.describe().index_schema.sparse == ("lexical", "splade")
        assert all("lexical" in p.sparse for p in reader.store.retrieve(list(reader.store.fingerprints())))


def test_a_failed_run_keeps_the_previous_version_served(target: IndexTarget) -> None:
    table = make_export(10)
    sync_index(target, "c", table, MANIFEST, "e1")
    before = _served(target)
    bad_values = table.column("sparse_values").to_pylist()
    bad_values[-1] = bad_values[-1][:-1]  # one value short: the engine would panic on it
    broken = replace_rows(table, list(range(10)), make_export(10, seed=9)).set_column(
        table.column_names.index("sparse_values"), "sparse_values", pa.array(bad_values, pa.list_(pa.float32())))
    with pytest.raises(InvalidVector, match="indices but"):
        sync_index(target, "c", broken, MANIFEST, "e2")
    assert _served(target) == before
    if target.backend == "edge":
        assert not list((target.root / "c" / "versions").glob("*.building"))
    assert sync_index(target, "c", table, MANIFEST, "e3").unchanged


def test_a_failure_inside_the_engine_keeps_the_previous_version_served(edge_target: IndexTarget) -> None:
    table = make_export(10)
    sync_index(edge_target, "c", table, MANIFEST, "e1")
    before = _served(edge_target)
    # A manifest that promises other dense dimensions than the stored ones: the rows are refused.
    wider = make_export(10, dim=64)
    with pytest.raises(InvalidVector):
        sync_index(edge_target, "c", wider, make_manifest(dim=48), "e2")
    assert _served(edge_target) == before
    # Another dense size is a new shard, built beside the served one.
    result = sync_index(edge_target, "c", wider, make_manifest(dim=64), "e3")
    assert result.base == "new" and result.points == 30 and _served(edge_target)[0] == 2
    with edge_target.reader("c") as reader:
        stored = reader.store.retrieve([next(iter(reader.store.fingerprints()))])[0]
        assert stored.dense is not None and stored.dense.shape == (64,) and np.isfinite(stored.dense).all()
