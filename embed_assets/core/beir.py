"""Reading a labelled BEIR folder: ``queries.jsonl`` (``_id``, ``text``) and
``qrels/test.tsv`` (``query-id``, ``corpus-id``, ``score``) beside ``corpus.jsonl``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

QUERIES = "queries.jsonl"
QRELS = Path("qrels") / "test.tsv"


def has_labels(folder: Path) -> bool:
    return (folder / QUERIES).is_file() and (folder / QRELS).is_file()


def read_queries(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    with open(folder / QUERIES, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{QUERIES}:{lineno}: invalid JSON ({exc.msg})") from None
            if "_id" not in obj or not isinstance(obj.get("text"), str):
                raise ValueError(f"{QUERIES}:{lineno}: a query needs _id and text")
            queries[str(obj["_id"])] = obj["text"]
    return queries


def read_qrels(folder: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / QRELS, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for lineno, row in enumerate(reader, start=1):
            if not row or (lineno == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise ValueError(f"{QRELS}:{lineno}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels
