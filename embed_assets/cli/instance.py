"""``embed-collections instance``: write the ``dagster.yaml`` of a Dagster instance on
PostgreSQL (runs, events, schedules), with credentials as environment variable references,
and optionally set the instance-wide ``gpu`` pool limit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from embed_assets.core.settings import get_settings

from .console import error, positive_int


def add_parser(sub: Any) -> None:
    inst = sub.add_parser("instance", help="write a Dagster instance config on PostgreSQL")
    inst.add_argument("--postgres-url", required=True, metavar="URL",
                      help="postgresql://user@host:port/database[?sslmode=require] (no password: see --password-env)")
    inst.add_argument("--password-env", default=None, metavar="NAME",
                      help="environment variable holding the password (default DAGSTER_PG_PASSWORD; '' for none)")
    inst.add_argument("--home", type=Path, default=None, help="the instance folder (default: $DAGSTER_HOME)")
    inst.add_argument("--max-concurrent-runs", type=positive_int, default=8)
    inst.add_argument("--gpu-slots", type=positive_int, default=None,
                      help="also set the gpu pool limit in the database (steps on GPUs at once, all hosts)")
    inst.add_argument("--force", action="store_true", help="replace an existing dagster.yaml")


def main(args: argparse.Namespace) -> int:
    from embed_assets.runs.instance_config import (
        DEFAULT_PASSWORD_ENV,
        InstanceConfigError,
        parse_postgres_url,
        postgres_instance_config,
        render,
        write_instance_config,
    )

    home = (args.home or get_settings().resolved_dagster_home).expanduser().resolve()
    password_env = DEFAULT_PASSWORD_ENV if args.password_env is None else args.password_env.strip() or None
    try:
        target = parse_postgres_url(args.postgres_url)
        text = render(postgres_instance_config(target, password_env, args.max_concurrent_runs))
        path = write_instance_config(home, text, force=args.force)
    except InstanceConfigError as exc:
        error(str(exc))
        return 2
    print(f"wrote {path}", file=sys.stderr)
    if args.gpu_slots is not None:
        import dagster as dg

        with dg.DagsterInstance.from_config(str(home)) as instance:
            instance.event_log_storage.set_concurrency_slots("gpu", args.gpu_slots)
        print(f"gpu pool: {args.gpu_slots} slot(s) on {target.hostname}/{target.db_name}", file=sys.stderr)
    needs = f"DAGSTER_HOME={home}" + (f" and {password_env}" if password_env else "")
    print(f"every process that opens this instance (webserver, daemon, workers) needs {needs}", file=sys.stderr)
    return 0
