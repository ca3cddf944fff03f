"""A labelled BEIR folder: ``queries.jsonl`` (``_id``, ``text``) and ``qrels/test.tsv``
(``query-id``, ``corpus-id``, ``score``) beside ``corpus.jsonl``.

The labels of a collection are read like its documents: only regular files inside the
collection folder (a link out of it, or a FIFO, is refused with a ValueError)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

from .corpus import CORPUS_FILENAME
from .reading import Refused, open_known_file
from .walk import EVAL_MARKER

__all__ = ["BEIR_FILES", "EVAL_MARKER", "QRELS", "QUERIES", "CollectionInUse", "has_labels", "install_beir",
           "read_qrels", "read_queries"]

QUERIES = "queries.jsonl"
QRELS = Path("qrels") / "test.tsv"
BEIR_FILES = (Path(CORPUS_FILENAME), Path(QUERIES), QRELS)


class CollectionInUse(ValueError):
    """The collection folder exists with content that evaluation did not put there."""


def has_labels(folder: Path) -> bool:
    return (folder / QUERIES).is_file() and (folder / QRELS).is_file()


@contextlib.contextmanager
def _labels(folder: Path, rel: Path) -> Iterator[io.TextIOWrapper]:
    try:
        with open_known_file(folder, rel.as_posix()) as raw:
            yield io.TextIOWrapper(raw, encoding="utf-8", newline="")
    except Refused as refused:
        raise ValueError(f"{rel.as_posix()}: {refused.detail}; labels are read only from inside the collection"
                         ) from None


def read_queries(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    with _labels(folder, Path(QUERIES)) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{QUERIES}:{lineno}: invalid JSON ({exc.msg})") from None
            except (ValueError, RecursionError):
                raise ValueError(f"{QUERIES}:{lineno}: invalid JSON (a value out of range, or nested too deep)") from None
            if not isinstance(obj, dict) or "_id" not in obj or not isinstance(obj.get("text"), str):
                raise ValueError(f"{QUERIES}:{lineno}: a query needs _id and text")
            queries[str(obj["_id"])] = obj["text"]
    return queries


def read_qrels(folder: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with _labels(folder, QRELS) as handle:
        reader = csv.reader(handle, delimiter="\t")
        for lineno, row in enumerate(reader, start=1):
            if not row or (lineno == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise ValueError(f"{QRELS}:{lineno}: expected query-id, corpus-id, score")
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels


def _same_file(a: Path, b: Path) -> bool:
    return b.is_file() and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()


def install_beir(source: Path, target: Path) -> bool:
    """Copy the BEIR files into the collection folder; True when anything changed. Refuses
    (:class:`CollectionInUse`) a folder that holds anything and was not created this way."""
    if target.exists() and any(target.iterdir()) and not (target / EVAL_MARKER).is_file():
        raise CollectionInUse(f"collection folder {target} already exists and was not created by eval; "
                              "evaluation never writes into it (pick another name with --collection)")
    changed = False
    target.mkdir(parents=True, exist_ok=True)
    (target / EVAL_MARKER).write_text(json.dumps({"source": str(source.resolve())}), "utf-8")
    for rel in BEIR_FILES:
        src, dst = source / rel, target / rel
        if not src.is_file():
            raise FileNotFoundError(f"{src} is missing: a BEIR folder needs {CORPUS_FILENAME}, {QUERIES} and {QRELS}")
        if not _same_file(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
            changed = True
    return changed
