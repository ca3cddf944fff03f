"""Build a labelled BEIR retrieval set from real text not written by this project: the
docstrings of the Python standard library (© Python Software Foundation, PSF License 2.0).

Each documented public function, method or class gives one document — its docstring
without the summary line — and one query — the summary line. A query's one relevant
document is the docstring it came from (known-item retrieval); all other docstrings are
distractors. The set is deterministic for a given Python version.

    python -m embed_assets.eval_sets --out data/eval/python-docstrings
"""

from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import json
import platform
import random
import re
import sys
from pathlib import Path

MODULES = [
    "argparse", "array", "base64", "bisect", "calendar", "codecs", "collections", "configparser", "contextlib",
    "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.message", "enum", "fnmatch",
    "fractions", "ftplib", "functools", "getopt", "glob", "gzip", "hashlib", "heapq", "hmac", "html",
    "http.client", "http.cookiejar", "imaplib", "inspect", "ipaddress", "itertools", "json", "locale", "logging",
    "mailbox", "mimetypes", "netrc", "operator", "optparse", "os", "pathlib", "pickle", "pkgutil", "platform",
    "poplib", "pprint", "queue", "random", "re", "sched", "secrets", "selectors", "shelve", "shlex", "shutil",
    "smtplib", "socket", "sqlite3", "ssl", "statistics", "string", "struct", "subprocess", "tarfile", "tempfile",
    "textwrap", "threading", "timeit", "tokenize", "traceback", "typing", "unittest", "urllib.parse",
    "urllib.request", "uuid", "warnings", "weakref", "xml.dom.minidom", "xml.etree.ElementTree", "zipfile",
    "zoneinfo",
]
LICENSE_NOTE = ("Text: docstrings of the Python {version} standard library, Copyright (c) Python Software "
                "Foundation, used under the PSF License Agreement (PSF-2.0).")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _items(module_name: str) -> list[tuple[str, str]]:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 - a module missing on this platform is skipped
        return []
    out = []
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            out.append((f"{module_name}.{name}", inspect.getdoc(obj) or ""))
            for attr, member in sorted(vars(obj).items()):
                if not attr.startswith("_") and inspect.isfunction(member):
                    out.append((f"{module_name}.{name}.{attr}", inspect.getdoc(member) or ""))
        elif inspect.isfunction(obj):
            out.append((f"{module_name}.{name}", inspect.getdoc(obj) or ""))
    return out


def build(out: Path, modules: list[str] = MODULES, max_queries: int = 400, seed: int = 13) -> dict[str, int]:
    docs: list[dict[str, str]] = []
    queries: list[dict[str, str]] = []
    seen_bodies: set[str] = set()
    seen_summaries: set[str] = set()
    for module_name in modules:
        for qualname, doc in _items(module_name):
            paragraphs = [p for p in re.split(r"\n\s*\n", doc.strip()) if p.strip()]
            if len(paragraphs) < 2:
                continue
            summary, body = _clean(paragraphs[0]), _clean(" ".join(paragraphs[1:]))
            if not 4 <= len(summary.split()) <= 40 or len(body.split()) < 20:
                continue
            if body in seen_bodies or summary.lower() in seen_summaries:
                continue
            seen_bodies.add(body)
            seen_summaries.add(summary.lower())
            docs.append({"_id": qualname, "title": module_name, "text": body})
            queries.append({"_id": f"q:{qualname}", "text": summary, "doc": qualname})
    rng = random.Random(seed)
    chosen = sorted(rng.sample(queries, min(max_queries, len(queries))), key=lambda q: q["_id"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for d in docs:
            handle.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as handle:
        for q in chosen:
            handle.write(json.dumps({"_id": q["_id"], "text": q["text"]}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["query-id", "corpus-id", "score"])
        for q in chosen:
            writer.writerow([q["_id"], q["doc"], 1])
    version = platform.python_version()
    (out / "README.md").write_text(
        f"# python-docstrings: a labelled retrieval set\n\n{LICENSE_NOTE.format(version=version)}\n\n"
        f"Built by `python -m embed_assets.eval_sets` from {len(modules)} modules: {len(docs)} documents "
        f"(a docstring without its summary line; title: the module), {len(chosen)} queries (a summary line), "
        "one relevant document per query (the docstring it came from).\n", "utf-8")
    return {"documents": len(docs), "queries": len(chosen)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embed_assets.eval_sets", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-queries", type=int, default=400)
    parser.add_argument("--modules", default=None, help="comma-separated module names (default: a fixed list)")
    args = parser.parse_args(argv)
    modules = args.modules.split(",") if args.modules else MODULES
    print(json.dumps(build(args.out, modules, args.max_queries)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
