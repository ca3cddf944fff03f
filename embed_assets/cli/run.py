"""``embed-collections run``: register new collection folders as partitions and
materialize the named collections (all by default) end to end."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from embed_assets.core.ingest.names import collection_name_problems
from embed_assets.core.settings import collections_dir
from embed_assets.core.storage.exports import MANIFEST_NAME

from .console import checked, cli_instance, error, load_settings, positive_int, setup_logging

EPILOG = """examples:
  embed-collections run                                  # every collection of the data root
  embed-collections run --collection ops-faq --disable-sparse
  embed-collections run --data-root ~/notes --export-root /srv/exports
  EMBED_ASSETS_DENSE_MODELS="all-MiniLM-L6-v2:1,/models/e5:0.5" embed-collections run

exit status: 0 all collections published, 1 a run or a blocking check failed, 2 bad arguments or settings.
"""


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="register new collections and materialize them end to end",
                         description="Register every new folder under <data-root>/collections/ as a partition and "
                                     "materialize the collections end to end, printing a summary per collection.",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--data-root", type=Path, default=None,
                     help="folder holding collections/ (default: $EMBED_ASSETS_DATA_ROOT, else the project's data/)")
    run.add_argument("--collection", action="append", default=[], metavar="NAME",
                     help="collection to materialize; repeatable (default: all of them)")
    toggle = run.add_mutually_exclusive_group()
    toggle.add_argument("--enable-sparse", dest="sparse", action="store_const", const=True, default=None,
                        help="run the sparse (SPLADE) stage; overrides run config and $EMBED_ASSETS_SPARSE "
                             "(default: on)")
    toggle.add_argument("--disable-sparse", dest="sparse", action="store_const", const=False,
                        help="skip the sparse stage: dense-only records and a 4.0 manifest")
    run.add_argument("--export-root", type=Path, default=None,
                     help="where exports land (default: $EMBED_ASSETS_EXPORT_ROOT, else <data-root>/exports)")
    run.add_argument("--allow-empty", action="store_true",
                     help="let a collection with no documents replace its last good export (a deliberate purge)")
    run.add_argument("--allow-drop", action="store_true",
                     help="let a collection that lost more than half of its documents replace its last good export")
    run.add_argument("--quiet", action="store_true", help="no progress bars and stage lines, only the summary")
    run.add_argument("--shards", type=positive_int, default=None, metavar="K",
                     help="split each collection's dense and sparse work into K shards (separate steps, merged "
                          "before fusion; default: $EMBED_ASSETS_SHARDS, else 1)")
    run.add_argument("--strict-sparse", action="store_true",
                     help="fail the run when the sparse model falls back past the threshold (default: publish the "
                          "metadata-derived vectors and warn)")


def _check_selection(folder: Path, names: list[str]) -> str | None:
    """Why the requested collections cannot run, or None."""
    if not folder.is_dir():
        return f"{folder} does not exist; create one folder per collection there"
    for name in names:
        problems = collection_name_problems(name)
        if problems:
            return f"unsafe collection name {name!r}: {'; '.join(problems)}"
        if not (folder / name).is_dir():
            return f"no collection folder {folder / name}"
    return None


def main(args: argparse.Namespace) -> int:
    setup_logging(args.quiet)
    settings = load_settings()
    if settings is None:
        return 2
    data_root = (args.data_root or settings.resolved_data_root).expanduser().resolve()
    export_root = args.export_root.expanduser().resolve() if args.export_root else settings.export_root_for(data_root)
    folder = collections_dir(data_root)
    problem = _check_selection(folder, args.collection)
    if problem:
        error(problem)
        return 2
    if not checked(settings, export_root):
        return 2
    print(f"loading definitions and the Dagster instance (data root {data_root})", file=sys.stderr)
    from embed_assets.runs.runner import DagsterRunner

    try:
        instance, home = cli_instance(data_root)
    except RuntimeError as exc:  # the instance serves another data root
        error(str(exc))
        return 2
    runner = DagsterRunner.for_data_root(instance, data_root=data_root, export_root=export_root,
                                         on_wait=lambda message: print(message, file=sys.stderr))
    safe = _register(runner, folder)
    selected = args.collection or safe
    if not selected:
        print(f"no collections under {folder}", file=sys.stderr)
        return 2
    failed = _materialize_all(runner, selected, export_root, args)
    print(f"\n{len(selected) - len(failed)} of {len(selected)} collection(s) succeeded"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"exports: {export_root}    Dagster instance: {home}")
    return 1 if failed else 0


def _register(runner: Any, folder: Path) -> list[str]:
    """Register every safe collection folder as a partition; the safe names."""
    from embed_assets.core.ingest.discovery import discover_collections

    safe, refused = discover_collections(folder)
    for name, problems in refused.items():
        print(f"refused collection folder {name!r}: {'; '.join(problems)}", file=sys.stderr)
    new = runner.register(safe)
    if new:
        print(f"registered {len(new)} new partition(s): {', '.join(new)}", file=sys.stderr)
    return safe


def _materialize_all(runner: Any, selected: list[str], export_root: Path, args: argparse.Namespace) -> list[str]:
    """Materialize each collection in turn, printing its summary; the ones that failed."""
    from embed_assets.defs.config import SHARDS_TAG, SPARSE_CLI_TAG

    tags = {} if args.sparse is None else {SPARSE_CLI_TAG: "enable" if args.sparse else "disable"}
    if args.shards is not None:
        tags[SHARDS_TAG] = str(args.shards)
    gates = {k: v for k, v in (("allow_empty", args.allow_empty), ("strict_sparse", args.strict_sparse)) if v}
    if args.allow_drop:
        gates["max_document_drop"] = 1.0
    run_config = {"resources": {"gates": {"config": gates}}} if gates else None
    failed = []
    for i, collection in enumerate(selected, start=1):
        print(f"[{i}/{len(selected)}] {collection}: materializing", file=sys.stderr)
        outcome = runner.materialize(collection, tags=tags, run_config=run_config)
        print(summary(outcome, _manifest(export_root / collection), export_root / collection, args.sparse))
        if not outcome.ok:
            failed.append(collection)
    return failed


def _manifest(export_dir: Path) -> dict[str, Any] | None:
    path = export_dir / MANIFEST_NAME
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


def _backend(entry: dict[str, Any]) -> str:
    """A model entry's encoder backend, and what was asked for when it fell back."""
    b = entry.get("backend") or {"name": "torch", "requested": "torch"}
    return b["name"] if b["name"] == b["requested"] else f"{b['name']}, {b['requested']} unavailable"


def _manifest_lines(m: dict[str, Any], export_dir: Path, sparse_flag: bool | None) -> list[str]:
    docs = m["stages"]["chunks"]["documents"]
    dense = m["stages"]["dense"]
    sparse = m["activation"]["sparse"]
    reasons = f" ({', '.join(f'{k}: {v}' for k, v in docs['skipped_by_reason'].items())})" if docs["skipped"] else ""
    models = ", ".join(f"{x['name']} ({x['dim']}d, {_backend(x)})" for x in dense["models"])
    line = f"   sparse     {'on' if sparse['enabled'] else 'off'} (decided by {sparse['decided_by']})"
    if "sparse_run" in m:
        st = m["stages"]["sparse"]
        line += (f", {st['sparse_model']}{' (' + _backend(st['model']) + ')' if st.get('model') else ''}, "
                 f"fallback {'USED' if st['fallback_used'] else 'not used'} ("
                 + ", ".join(f"{source} {n}" for source, n in st["source_counts"].items() if n) + ")")
    lines = [f"   documents  {docs['seen']} seen, {docs['embedded']} embedded, {docs['skipped']} skipped{reasons}",
             f"   chunks     {m['stages']['chunks']['count']}  ({m['stages']['chunks']['tokens_total']} tokens)",
             f"   dense      {models} → {dense['dim']}d on {', '.join(dense['devices'])}"
             + (f" in {dense['shards']} shards" if dense.get("shards", 1) > 1 else ""), line]
    if sparse_flag and "sparse_run" not in m:
        lines.append("   warning    sparse was requested but the manifest has no sparse sections")
    lines.append(f"   manifest   {m['schema_version']}  {export_dir / MANIFEST_NAME}")
    return lines


def index_lines(meta: dict[str, Any]) -> list[str]:
    """The vector index part of the summary (from the vector_index materialization's metadata)."""
    state = "unchanged" if meta.get("unchanged") else f"from {meta.get('base')}"
    return [f"   index      {meta['backend']} {meta['collection_name']} version {meta.get('index_version')} "
            f"({state}) at {meta['location']}",
            f"              {meta['points']} points, {meta['upserted']} upserted, {meta['deleted']} deleted in "
            f"{meta['latency_ms']:.0f} ms; {meta.get('search', 'exact')} search"]


def summary(outcome: Any, manifest: dict[str, Any] | None, export_dir: Path, sparse_flag: bool | None) -> str:
    """The per-collection block of the run summary (``outcome`` is a RunOutcome)."""
    lines = [f"\n== {outcome.collection}: {'OK' if outcome.ok else 'FAILED'} in {outcome.wall_s:.1f}s "
             f"(run {outcome.run_id[:8]})"]
    if manifest and manifest.get("run", {}).get("dagster_run_id") == outcome.run_id:
        lines += _manifest_lines(manifest, export_dir, sparse_flag)
    elif manifest:
        lines.append(f"   exports    unchanged: the last good export ({manifest['run']['finished_at']}) stays published")
    if outcome.index:
        lines += index_lines(outcome.index)
    if outcome.checks:
        passed = [k for k, v in outcome.checks.items() if v]
        failed = [k for k, v in outcome.checks.items() if not v and k not in outcome.warnings]
        warned = [f"{k} ({outcome.warnings[k]})" for k, v in outcome.checks.items() if not v and k in outcome.warnings]
        lines.append(f"   checks     {len(passed)} passed" + (f", FAILED: {', '.join(failed)}" if failed else "")
                     + (f", WARN: {'; '.join(warned)}" if warned else ""))
    lines += [f"   failure    {failure}" for failure in outcome.failures]
    return "\n".join(lines)
