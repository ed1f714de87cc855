"""`gitops-sla schemas`: write the JSON Schemas generated from the models (or check that they are current)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops_sla.schemas import PROJECT_SCHEMA_DIR, stale_schemas, write_schemas


def run(args: argparse.Namespace) -> int:
    directory = Path(args.output)
    if args.check:
        stale = stale_schemas(directory)
        for name in stale:
            print(f"{directory / name}: out of date; run 'gitops-sla schemas'", file=sys.stderr)
        return 1 if stale else 0
    for path in write_schemas(directory):
        print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("schemas", help="regenerate the JSON Schemas in schemas/", description=__doc__)
    parser.add_argument("--output", default=str(PROJECT_SCHEMA_DIR), help="folder (default: the project's schemas/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a schema file differs from the models")
    parser.set_defaults(handler=run)
