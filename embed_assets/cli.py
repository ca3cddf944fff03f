"""``embed-collections``: materialize collections end to end from the command line.

Runs go to the Dagster instance at ``$DAGSTER_HOME`` (default: the embedded SQLite
instance under the project), so they show up in ``dagster dev`` on the same instance.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embed_assets.core import settings
from embed_assets.core.names import collection_name_problems

log = logging.getLogger("embed_assets.cli")


@dataclass
class CollectionOutcome:
    collection: str
    success: bool
    wall_s: float
    checks: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    export_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.success and all(self.checks.values())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embed-collections", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="register new collections and materialize them end to end")
    run.add_argument("--data-root", type=Path, default=None,
                     help="folder holding collections/ (default: the project's data/ folder)")
    run.add_argument("--collection", action="append", default=[], metavar="NAME",
                     help="collection to materialize (repeatable; default: all)")
    toggle = run.add_mutually_exclusive_group()
    toggle.add_argument("--enable-sparse", dest="sparse", action="store_const", const=True, default=None)
    toggle.add_argument("--disable-sparse", dest="sparse", action="store_const", const=False)
    run.add_argument("--export-root", type=Path, default=None, help="default: <data-root>/exports")
    from .evaluate_cli import add_parsers

    add_parsers(sub)
    schemas = sub.add_parser("schemas", help="write or check the committed manifest JSON Schemas")
    schemas.add_argument("--check", action="store_true", help="exit 1 when the committed files are stale")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schemas":
        return _schemas(args.check)
    if args.command in ("eval", "search"):
        from .evaluate_cli import run_eval, run_search

        _setup_logging()
        return run_eval(args) if args.command == "eval" else run_search(args)
    return _run(args)


def _schemas(check: bool) -> int:
    from embed_assets.core.manifest import SCHEMA_VERSIONS, committed_schema, manifest_json_schema, write_schemas

    folder = Path(__file__).parent / "schemas"
    if check:
        stale = [v for v in SCHEMA_VERSIONS if committed_schema(v) != manifest_json_schema(v)]
        for version in stale:
            print(f"manifest {version} schema is stale; run: embed-collections schemas", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(folder):
        print(path)
    return 0


def _instance() -> Any:
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home())
        home = Path(os.environ["DAGSTER_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        config = home / "dagster.yaml"
        if not config.exists():  # the embedded instance: SQLite under the project, no telemetry
            config.write_text("telemetry:\n  enabled: false\n", "utf-8")
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    progress = logging.getLogger("embed_assets.progress")
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


def _run(args: argparse.Namespace) -> int:
    _setup_logging()
    data_root = (args.data_root or settings.data_root()).expanduser().resolve()
    collections_dir = settings.collections_dir(data_root)
    if not collections_dir.is_dir():
        print(f"error: {collections_dir} does not exist; create one folder per collection there", file=sys.stderr)
        return 2
    for name in args.collection:
        problems = collection_name_problems(name)
        if problems:
            print(f"error: unsafe collection name {name!r}: {'; '.join(problems)}", file=sys.stderr)
            return 2
        if not (collections_dir / name).is_dir():
            print(f"error: no collection folder {collections_dir / name}", file=sys.stderr)
            return 2

    print(f"loading definitions and the Dagster instance (data root {data_root})", file=sys.stderr)
    from embed_assets.defs.config import SPARSE_CLI_TAG
    from embed_assets.defs.definitions import JOB_NAME, build_definitions
    from embed_assets.defs.partitions import COLLECTIONS
    from embed_assets.defs.sensors import discover_collections

    instance = _instance()
    safe, refused = discover_collections(collections_dir)
    for name, problems in refused.items():
        print(f"refused collection folder {name!r}: {'; '.join(problems)}", file=sys.stderr)
    known = set(instance.get_dynamic_partitions(COLLECTIONS))
    new = [n for n in safe if n not in known]
    if new:
        instance.add_dynamic_partitions(COLLECTIONS, new)
        print(f"registered {len(new)} new partition(s): {', '.join(new)}", file=sys.stderr)
    selected = args.collection or safe
    if not selected:
        print(f"no collections under {collections_dir}", file=sys.stderr)
        return 2

    export_root = args.export_root.expanduser().resolve() if args.export_root else settings.export_root(data_root)
    defs = build_definitions(data_root=data_root, export_root=export_root)
    job = defs.resolve_job_def(JOB_NAME)
    tags = {} if args.sparse is None else {SPARSE_CLI_TAG: "enable" if args.sparse else "disable"}
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    outcomes = []
    for i, collection in enumerate(selected, start=1):
        print(f"[{i}/{len(selected)}] {collection}: materializing", file=sys.stderr)
        started = time.perf_counter()
        result = job.execute_in_process(partition_key=collection, instance=instance, tags=tags,
                                        run_config=run_config, raise_on_error=False)
        outcome = CollectionOutcome(collection=collection, success=result.success,
                                    wall_s=time.perf_counter() - started)
        for evaluation in result.get_asset_check_evaluations():
            outcome.checks[evaluation.check_name] = evaluation.passed
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                message = (error.message if error else event.message or "").strip().splitlines()
                outcome.failures.append(f"{event.step_key}: {message[0] if message else 'failed'}")
        export_dir = export_root / collection
        manifest_path = export_dir / "processing_summary.json"
        if manifest_path.is_file():
            outcome.manifest = json.loads(manifest_path.read_text("utf-8"))
            outcome.export_dir = export_dir
        outcomes.append(outcome)
        print(_summary(outcome, args.sparse, result.run_id))
    failed = [o.collection for o in outcomes if not o.ok]
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} collection(s) succeeded"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"exports: {export_root}    Dagster instance: {os.environ['DAGSTER_HOME']}")
    return 1 if failed else 0


def _summary(o: CollectionOutcome, sparse_flag: bool | None, run_id: str) -> str:
    lines = [f"\n== {o.collection}: {'OK' if o.ok else 'FAILED'} in {o.wall_s:.1f}s (run {run_id[:8]})"]
    m = o.manifest
    fresh = m is not None and m.get("run", {}).get("dagster_run_id") == run_id
    if m and fresh:
        docs = m["stages"]["chunks"]["documents"]
        dense = m["stages"]["dense"]
        sparse = m["activation"]["sparse"]
        lines.append(f"   documents  {docs['seen']} seen, {docs['embedded']} embedded, {docs['skipped']} skipped"
                     + (f" ({', '.join(f'{k}: {v}' for k, v in docs['skipped_by_reason'].items())})"
                        if docs["skipped"] else ""))
        lines.append(f"   chunks     {m['stages']['chunks']['count']}  ({m['stages']['chunks']['tokens_total']} tokens)")
        models = ", ".join(f"{x['name']} ({x['dim']}d)" for x in dense["models"])
        lines.append(f"   dense      {models} → {dense['dim']}d on {', '.join(dense['devices'])}")
        line = f"   sparse     {'on' if sparse['enabled'] else 'off'} (decided by {sparse['decided_by']})"
        if "sparse_run" in m:
            st = m["stages"]["sparse"]
            line += (f", {st['sparse_model']}, fallback {'USED' if st['fallback_used'] else 'not used'} "
                     f"{st['source_counts']}")
        lines.append(line)
        if sparse_flag and "sparse_run" not in m:
            lines.append("   warning    sparse was requested but the manifest has no sparse sections")
        lines.append(f"   manifest   {m['schema_version']}  {o.export_dir / 'processing_summary.json'}")
    elif m:
        lines.append(f"   exports    unchanged: the last good export ({m['run']['finished_at']}) stays published")
    if o.checks:
        passed = [k for k, v in o.checks.items() if v]
        failed = [k for k, v in o.checks.items() if not v]
        lines.append(f"   checks     {len(passed)} passed" + (f", FAILED: {', '.join(failed)}" if failed else ""))
    for failure in o.failures:
        lines.append(f"   failure    {failure}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
