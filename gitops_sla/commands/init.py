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
    print("It holds no request yet, so nothing deploys until you add one. Next steps:")
    print(f"  1. edit {directory}/gitops-sla.yaml (tenancy, planner mode, default AI Configurator system)")
    print(f"  2. cp {directory}/examples/sla-aic.yaml {directory}/requests/<namespace>/<name>.yaml, set metadata.name "
          "to <name>, adjust model, backend and SLA (autoApply: false: the result comes as a pull request)")
    print(f"  3. gitops-sla validate {directory}")
    print(f"  4. commit and push it to your Git server (or, to try it locally: git clone --bare {directory} "
          f"{directory}.git, then gitops-sla reconcile --repo {directory}.git --once)")
    print("  5. point Argo CD or Flux at it: apps/argocd/ or apps/flux/ (see README.md)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("init", help="create a GitOps repository from the template", description=__doc__)
    parser.add_argument("directory", metavar="DIR", help="a new or empty folder")
    parser.add_argument("--branch", default="main", help="name of the initial branch (default: main)")
    parser.set_defaults(handler=run)
