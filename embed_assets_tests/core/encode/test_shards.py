"""Shard plans: contiguous ranges of the distinct chunk texts, balanced by tokens, checked
before a merge."""

import pytest

from embed_assets.core.encode.shards import ShardCoverageError, ShardSpec, check_coverage, plan_shards, shard_rows


def test_shards_tile_the_distinct_texts_and_balance_tokens() -> None:
    hashes = ["a", "b", "a", "c", "d", "e", "b", "f"]  # 6 distinct texts; "a" and "b" repeat
    lengths = [100, 10, 100, 10, 10, 10, 10, 100]
    shards = plan_shards(hashes, lengths, 2)
    assert [(s.start, s.stop) for s in shards] == [(0, 3), (3, 6)]  # 102+12+12 tokens each (+2 special tokens)
    assert all(s.unique_total == 6 and s.count == 2 for s in shards)
    assert shard_rows(hashes, shards[1]) == [4, 5, 7]  # rows of the first occurrences only
    assert check_coverage(list(reversed(shards)), 6) == shards


def test_fewer_texts_than_shards_and_an_empty_collection() -> None:
    assert [(s.start, s.stop) for s in plan_shards(["x", "y"], [5, 5], 8)] == [(0, 1), (1, 2)]
    (only,) = plan_shards([], [], 4)
    assert (only.index, only.count, only.start, only.stop) == (0, 1, 0, 0)
    equal = plan_shards([str(i) for i in range(10)], [7] * 10, 3)
    assert [s.size for s in equal] == [4, 3, 3] and all(s.size for s in equal)


def test_a_merge_refuses_missing_overlapping_or_stale_shards() -> None:
    shards = plan_shards(list("abcdef"), [1] * 6, 3)
    with pytest.raises(ShardCoverageError, match="expected shards 0..2"):
        check_coverage(shards[:2], 6)
    overlapping = [shards[0], ShardSpec(index=1, count=3, start=1, stop=4, unique_total=6), shards[2]]
    with pytest.raises(ShardCoverageError, match="expected to start at 2"):
        check_coverage(overlapping, 6)
    with pytest.raises(ValueError, match="the chunks changed since the plan"):
        shard_rows(list("abcdefg"), shards[0])
    with pytest.raises(ValueError, match="does not fit"):
        ShardSpec(index=3, count=3, start=0, stop=1, unique_total=1)


def test_shards_from_different_encoder_backends_are_not_merged() -> None:
    from embed_assets.core.stages.shards import same_encoders

    same_encoders("dense_embeddings", [(0, ("w", "onnx-int8-abc")), (1, ("w", "onnx-int8-abc"))])
    with pytest.raises(ShardCoverageError, match="different encoder backends.*shard 1: .*onnx-def"):
        same_encoders("dense_embeddings", [(0, ("w", "onnx-int8-abc")), (1, ("w", "onnx-def"))])
