"""`gitops-sla init DIR`: create a GitOps repository from the template, with one initial commit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gitops_sla.template import InitError, init_repository


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    try:
        commit = init_repository(directory, branch=args.branch)
    except InitError as exc:
        print(f"gitops-sla init: {exc}", file=sys.stderr)
        return 1
    print(f"Created a GitOps repository in {directory} (branch {args.branch}, commit {str(commit)[:12]}).")
    print("Next: edit gitops-sla.yaml, add requests/<namespace>/<name>.yaml, check with "
          f"'gitops-sla validate {directory}', push it, and point apps/ at it.")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("init", help="create a GitOps repository from the template", description=__doc__)
    parser.add_argument("directory", metavar="DIR", help="a new or empty folder")
    parser.add_argument("--branch", default="main", help="name of the initial branch (default: main)")
    parser.set_defaults(handler=run)
