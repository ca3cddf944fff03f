"""``embed-collections schemas``: write or check the committed manifest JSON Schemas."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from embed_assets.core.manifest.schemas import stale_schemas, write_schemas

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"


def add_parser(sub: Any) -> None:
    schemas = sub.add_parser("schemas", help="write or check the committed manifest JSON Schemas",
                             description="Regenerate embed_assets/schemas/manifest-4.0/4.1.schema.json from the "
                                         "manifest models, or check that the committed files are current.")
    schemas.add_argument("--check", action="store_true", help="exit 1 when the committed files are stale")


def main(args: argparse.Namespace) -> int:
    if args.check:
        stale = stale_schemas()
        for version in stale:
            print(f"manifest {version} schema is stale; run: embed-collections schemas", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(SCHEMAS_DIR):
        print(path)
    return 0
