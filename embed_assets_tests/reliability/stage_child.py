"""The real chunks stage (with the real MiniLM tokenizer and its limit) on collection
folders, as the reliability tests run it: in a forked unprivileged child (``run_jobs``) or
as a fresh interpreter that prints one JSON line per folder:

``python -m embed_assets_tests.reliability.stage_child SPEC.json``; the spec lists
``jobs`` (``name``, ``folder``, ``collection``, optional ``read_limits``) and ``canaries``
(texts planted outside the collections: any found in a chunk, a column or the envelope
is a leak).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from embed_assets.core.encode.models import load_tokenizer, resolve_model
from embed_assets.core.ingest.chunking import ChunkingConfig, TokenLimit
from embed_assets.core.ingest.documents import ReadLimits
from embed_assets.core.stages.chunks import run_chunks_stage

from .child import memory_of

MODEL = "all-MiniLM-L6-v2"


def minilm_limit() -> TokenLimit:
    """The MiniLM tokenizer and its content-token limit (max_seq_length less [CLS] and [SEP])."""
    model = resolve_model(MODEL)
    config = json.loads((Path(model.location) / "sentence_bert_config.json").read_text("utf-8"))
    return TokenLimit(name=MODEL, tokenizer=load_tokenizer(model), max_tokens=int(config["max_seq_length"]) - 2)


def _documents(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    for row in rows:
        doc = docs.setdefault(row["doc_id"], {"chunks": 0, "max_tokens": 0, "title": row["title"], "headings": [],
                                              "source_path": row["source_path"], "text_head": row["text"][:500]})
        doc["chunks"] += 1
        doc["max_tokens"] = max(doc["max_tokens"], row["token_count"])
        if row["headings"] and row["headings"] not in doc["headings"]:
            doc["headings"].append(row["headings"])
    return docs


def run_job(job: dict[str, Any], limit: TokenLimit, canaries: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        table, envelope = run_chunks_stage(Path(job["folder"]), job["collection"], [limit], ChunkingConfig(),
                                           ReadLimits(**job.get("read_limits", {})), run_id="reliability")
    except Exception as exc:  # noqa: BLE001 - the whole collection failed: that is what is measured
        return {"name": job["name"], "failed": type(exc).__name__}
    rows = table.to_pylist()
    blob = json.dumps(rows, ensure_ascii=False) + envelope.model_dump_json()
    return {"name": job["name"], "failed": None, "seconds": time.perf_counter() - started,
            "accounting": envelope.stage.documents.model_dump(mode="json"),
            "fingerprint": envelope.stage.inputs_sha256, "documents": _documents(rows),
            "leaks": [canary for canary in canaries if canary in blob]}


def run_jobs(jobs: list[dict[str, Any]], limit: TokenLimit, canaries: list[str]) -> list[dict[str, Any]]:
    return [run_job(job, limit, canaries) for job in jobs]


def warm_up(limit: TokenLimit, folder: Path) -> None:
    """One run over a small collection of every kind of input, so that every module the
    stage imports lazily is imported (a child that has dropped its privileges may no longer
    be able to read the interpreter's files)."""
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("Plain text.")
    for encoding in ("utf-16", "utf-16-be", "utf-32", "utf-32-be"):  # codecs load lazily, by name
        (folder / f"{encoding}.txt").write_bytes(("\ufeff" + encoding).encode(encoding))
    (folder / "b.md").write_text("# Title\n\n## Part *one*\n\nText.")
    (folder / "corpus.jsonl").write_text('{"_id": "1", "text": "one"}\n[1]\n{"_id": "2"\n')
    result = run_job({"name": "warm-up", "folder": str(folder), "collection": "warm-up"}, limit, [])
    assert not result["failed"], result


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[1]).read_text("utf-8"))
    limit = minilm_limit()
    for job in spec["jobs"]:
        result = run_job(job, limit, spec["canaries"])
        result["peak_rss_bytes"] = memory_of("self", "VmHWM")
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
