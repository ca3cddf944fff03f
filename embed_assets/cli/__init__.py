"""``embed-collections``: materialize collections end to end from the command line, and
evaluate or search their exports (and write a PostgreSQL instance config for a cluster).

Runs go to the Dagster instance of the data root (``$DAGSTER_HOME``, or an embedded SQLite
instance: the project's ``.dagster/`` for the default data root), so they show up in the
Dagster UI on the same instance like runs launched there.
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


EPILOG = """examples:
  embed-collections run                                   # every collection under data/collections
  embed-collections run --data-root ~/notes --collection handbook
  embed-collections search --collection handbook "how do I rotate keys"
  embed-collections eval --beir path/to/beir-folder       # nDCG@10, MRR@10, recall per retriever
  embed-collections instance --postgres-url postgresql://dagster@db:5432/dagster   # a cluster's instance
"""


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("embed_assets")
    except PackageNotFoundError:
        return "0+unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embed-collections", description=(
        "Turn document collections into hybrid (dense + sparse) retrieval vectors with a Dagster asset graph: "
        "materialize them, search them, evaluate them."),
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(COMMANDS[args.command].main(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
