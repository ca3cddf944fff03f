"""``embed-collections``: materialize collections end to end from the command line, and
evaluate or search their exports (and write a PostgreSQL instance config for a cluster).

Runs go to the Dagster instance at ``$DAGSTER_HOME`` (default: the embedded SQLite
instance under the project), so they show up in ``dagster dev`` on the same instance.
"""

from __future__ import annotations

import argparse
import sys

from . import eval as eval_command
from . import instance as instance_command
from . import run as run_command
from . import schemas as schemas_command
from . import search as search_command

COMMANDS = {"run": run_command, "eval": eval_command, "search": search_command, "schemas": schemas_command,
            "instance": instance_command}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embed-collections", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(COMMANDS[args.command].main(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
