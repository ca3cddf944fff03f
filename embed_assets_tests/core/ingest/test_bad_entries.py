"""One bad entry never fails the whole collection: each becomes a recorded skip with its
reason, the rest of the collection embeds, and ``seen = embedded + skipped``."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from embed_assets.core.ingest.chunking import ChunkingConfig, TokenLimit
from embed_assets.core.ingest.discovery import fingerprint_collection, iter_collection
from embed_assets.core.ingest.documents import Document, ReadLimits, SkippedDocument, SkipReason
from embed_assets.core.stages.chunks import run_chunks_stage
from embed_assets_tests.reliability.child import deadline, nest_folders, run_unprivileged, shared_tmp
from embed_assets_tests.reliability.stage_child import minilm_limit, warm_up


@pytest.fixture(scope="module")
def limit() -> TokenLimit:
    return minilm_limit()


def _collection(tmp_path: Path) -> Path:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "good.txt").write_text("The good document is embedded whatever its neighbours are.")
    return folder


def _stage(folder: Path, limit: TokenLimit) -> dict[str, Any]:
    """The real chunks stage; what a manifest would record, as JSON."""
    with deadline(60):
        table, envelope = run_chunks_stage(folder, "c", [limit], ChunkingConfig(), ReadLimits(), run_id="test")
    return {"doc_ids": sorted(set(table.column("doc_id").to_pylist())),
            "documents": json.loads(envelope.stage.documents.model_dump_json()),
            "fingerprint": envelope.stage.inputs_sha256}


def _skips(result: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((s["source_path"], s["reason"]) for s in result["documents"]["skipped_documents"])


def test_a_name_that_is_not_utf8_is_a_printable_skip(tmp_path: Path, limit: TokenLimit) -> None:
    folder = _collection(tmp_path)
    (folder / os.fsdecode(b"caf\xe9-\xff.txt")).write_text("bytes in the name")
    result = _stage(folder, limit)
    assert result["doc_ids"] == ["good.txt"]
    assert _skips(result) == [("caf\\xe9-\\xff.txt", "undecodable_name")]
    json.dumps(result, ensure_ascii=False).encode("utf-8")  # JSON-safe: no lone surrogate anywhere


def test_a_fifo_and_a_dangling_link_named_txt_are_seen_and_skipped(tmp_path: Path, limit: TokenLimit) -> None:
    folder = _collection(tmp_path)
    os.mkfifo(folder / "pipe.txt")  # opening it would block: it must never be opened
    (folder / "gone.txt").symlink_to("missing.txt")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "socket.txt"))
        result = _stage(folder, limit)
    docs = result["documents"]
    assert (docs["seen"], docs["embedded"], docs["skipped"]) == (4, 1, 3)
    assert _skips(result) == [("gone.txt", "dangling_symlink"), ("pipe.txt", "special_file"),
                              ("socket.txt", "special_file")]


def test_folders_nested_1200_deep_are_walked_to_the_limit(limit: TokenLimit) -> None:
    # Not under tmp_path: the test runner's own clean-up removes folders recursively and
    # would hit the interpreter's recursion limit on this tree.
    with shared_tmp("deep-") as tmp:
        folder = _collection(tmp)
        (nest_folders(folder, 10, "s") / "shallow.txt").write_text("ten folders down")
        (nest_folders(folder, 1200) / "deep.txt").write_text("far down")
        result = _stage(folder, limit)
    assert result["doc_ids"] == ["good.txt", "s/s/s/s/s/s/s/s/s/s/shallow.txt"]
    limit_depth = ReadLimits().max_folder_depth
    assert _skips(result) == [("/".join(["d"] * (limit_depth + 1)), "folder_too_deep")]


def _stage_unprivileged(folder: Path, limit: TokenLimit) -> dict[str, Any]:
    return run_unprivileged(_stage, folder, limit, timeout_s=120)


@pytest.fixture(scope="module")
def warmed(limit: TokenLimit) -> TokenLimit:
    """The stage has run once (as this user), so a child that drops its privileges imports nothing."""
    with shared_tmp("warm-") as tmp:
        warm_up(limit, tmp / "warm-up")
    return limit


def test_an_unreadable_file_is_a_skip_and_the_fingerprint_survives_it(warmed: TokenLimit) -> None:
    with shared_tmp("unreadable-") as tmp:
        folder = _collection(tmp)
        (folder / "locked.txt").write_text("locked away")
        (folder / "locked.txt").chmod(0)
        (folder / "corpus.jsonl").write_text('{"_id": "1", "text": "locked away"}\n')
        (folder / "corpus.jsonl").chmod(0)
        result = _stage_unprivileged(folder, warmed)
        (folder / "locked.txt").chmod(0o644)
        readable = fingerprint_collection(folder)
    assert result["doc_ids"] == ["good.txt"]
    assert _skips(result) == [("corpus.jsonl", "unreadable"), ("locked.txt", "unreadable")]
    assert result["fingerprint"] and result["fingerprint"] != readable  # becoming readable is a change


def test_an_unreadable_folder_is_a_skip(warmed: TokenLimit) -> None:
    with shared_tmp("unreadable-") as tmp:
        folder = _collection(tmp)
        (folder / "locked").mkdir()
        (folder / "locked" / "inner.txt").write_text("locked away")
        (folder / "locked").chmod(0)
        result = _stage_unprivileged(folder, warmed)
    assert result["doc_ids"] == ["good.txt"]
    assert _skips(result) == [("locked", "unreadable")]


def test_every_skip_reason_has_a_message() -> None:
    messages = [reason.message for reason in SkipReason]
    assert all(messages) and len(set(messages)) == len(messages)


def test_hidden_entries_are_recorded_not_read(tmp_path: Path) -> None:
    folder = _collection(tmp_path)
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (folder / ".notes.md").write_text("# Hidden")
    items = list(iter_collection(folder))
    assert [i.doc_id for i in items if isinstance(i, Document)] == ["good.txt"]
    assert sorted((i.source_path, i.reason.value) for i in items if isinstance(i, SkippedDocument)) == [
        (".git", "hidden"), (".notes.md", "hidden")]
