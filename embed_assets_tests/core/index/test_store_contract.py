"""One contract, two engines: the embedded Edge shard and the client's local mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from embed_assets.core.encode.vectors import SparseVector
from embed_assets.core.index.edge import EdgeStore
from embed_assets.core.index.points import ExportRows
from embed_assets.core.index.server import ServerStore, connect
from embed_assets.core.index.store import Fusion, HybridQuery, IndexSchema, StoreError, VectorQuery, VectorStore

from .conftest import DIM, make_export

SCHEMA = IndexSchema(dense_size=DIM, sparse=("splade", "lexical"))


@pytest.fixture(params=["edge", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "edge":
        opened: VectorStore = EdgeStore.create(tmp_path / "shard", "c", SCHEMA)
        client = None
    else:
        client = connect(f"file://{tmp_path / 'local'}")
        opened = ServerStore(client, "c", "file://local")
        assert opened.ensure_schema(SCHEMA) == "created"
    yield opened
    opened.close()
    if client is not None:
        client.close()


@pytest.fixture
def rows() -> ExportRows:
    return ExportRows(make_export(8), SCHEMA, with_text=False)


def _load(store: VectorStore, rows: ExportRows) -> dict[str, str]:
    fingerprints = rows.fingerprints()
    for batch in rows.batches(rows.point_ids, fingerprints, "v1", size=10):
        store.upsert(batch)
    return fingerprints


def _vq(rows: ExportRows, i: int, name: str) -> VectorQuery:
    point = rows.point(i, "", "")
    if name == "dense":
        return VectorQuery(name=name, dense=tuple(float(x) for x in point.dense))
    return VectorQuery(name=name, sparse=point.sparse[name])


def test_upsert_count_retrieve_and_fingerprints(store: VectorStore, rows: ExportRows) -> None:
    fingerprints = _load(store, rows)
    assert store.count() == len(rows) and store.fingerprints() == fingerprints
    stored = {p.point_id: p for p in store.retrieve(rows.point_ids[:3])}
    for i in range(3):
        expected = rows.point(i, fingerprints[rows.point_ids[i]], "v1")
        got = stored[rows.point_ids[i]]
        assert np.allclose(got.dense, expected.dense, atol=1e-6)
        assert got.sparse["splade"].indices == expected.sparse["splade"].indices
        assert np.allclose(got.sparse["lexical"].values, expected.sparse["lexical"].values)
        assert got.payload == expected.payload
    description = store.describe()
    assert (description.points, description.index_schema, description.search) == (len(rows), SCHEMA, "exact")


@pytest.mark.parametrize("name", ["dense", "splade", "lexical"])
def test_each_named_vector_finds_its_own_chunk(store: VectorStore, rows: ExportRows, name: str) -> None:
    _load(store, rows)
    for i in (0, 7, 23):
        hits = store.query(HybridQuery(vectors=(_vq(rows, i, name),), limit=3, exact=True))
        assert hits[0].chunk_id == rows.columns["chunk_id"][i] and hits[0].doc_id == rows.columns["doc_id"][i]


def test_engine_fusions_use_the_constants_given(store: VectorStore, rows: ExportRows) -> None:
    _load(store, rows)
    vectors = tuple(_vq(rows, 5, n) for n in ("dense", "splade", "lexical"))
    rrf = store.query(HybridQuery(vectors=vectors, fusion=Fusion(method="rrf", k=60), limit=5))
    # First in all three lists: 3 / k with the engines' rank convention (1 / (k + rank0)).
    assert rrf[0].chunk_id == rows.columns["chunk_id"][5] and rrf[0].score == pytest.approx(3 / 60, rel=1e-5)
    weighted = store.query(HybridQuery(vectors=vectors, fusion=Fusion(k=60, weights=(2.0, 1.0, 1.0)), limit=5))
    assert weighted[0].score == pytest.approx(1 / (0.5 + 59) + 2 / 60, rel=1e-5)
    dbsf = store.query(HybridQuery(vectors=vectors, fusion=Fusion(method="dbsf"), limit=5))
    assert dbsf[0].chunk_id == rows.columns["chunk_id"][5]


def test_queries_in_a_batch_equal_single_queries(store: VectorStore, rows: ExportRows) -> None:
    _load(store, rows)
    queries = [HybridQuery(vectors=(_vq(rows, i, "dense"),), limit=4) for i in (1, 2, 3)]
    batched, single = store.query_batch(queries), [store.query(q) for q in queries]
    assert [[h.chunk_id for h in hits] for hits in batched] == [[h.chunk_id for h in hits] for hits in single]
    assert [h.score for hits in batched for h in hits] == pytest.approx([h.score for hits in single for h in hits])


def test_delete_and_upsert_again(store: VectorStore, rows: ExportRows) -> None:
    fingerprints = _load(store, rows)
    assert store.delete(rows.point_ids[:4]) == 4
    assert store.count() == len(rows) - 4 and not store.retrieve(rows.point_ids[:4])
    remaining = store.fingerprints()
    assert set(remaining) == set(rows.point_ids[4:])
    for batch in rows.batches(rows.point_ids[:4], fingerprints, "v2"):
        store.upsert(batch)
    assert store.fingerprints() == fingerprints
    assert {p.payload["export_version"] for p in store.retrieve(rows.point_ids[:5])} == {"v1", "v2"}


def test_the_schema_is_kept_or_evolved(store: VectorStore, rows: ExportRows) -> None:
    _load(store, rows)
    assert store.ensure_schema(SCHEMA) == "unchanged" and store.count() == len(rows)
    smaller = IndexSchema(dense_size=DIM, sparse=("splade",))
    done = store.ensure_schema(smaller)
    assert store.describe().index_schema == smaller
    # Edge evolves the shard in place; a server collection is created anew.
    assert (done, store.count()) in (("evolved", len(rows)), ("created", 0))


def test_a_wrong_dimension_is_an_error_not_a_panic(store: VectorStore, rows: ExportRows) -> None:
    point = rows.point(0, "", "")
    bad = point.model_copy(update={"dense": np.ones(DIM + 1, dtype=np.float32)})
    with pytest.raises(StoreError):
        store.upsert([bad])
    assert store.count() == 0
    store.upsert([point.model_copy(update={"sparse": {"splade": SparseVector(indices=[1], values=[1.0])}})])
    assert store.count() == 1
