"""The `gitops-sla` console script: one subcommand per module listed in `gitops_sla.commands.COMMANDS`."""

from __future__ import annotations

import argparse
import importlib
import sys

from gitops_sla.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="gitops-sla",
        description="NVIDIA Dynamo's SLA-driven deployment workflow (DGDR -> profiled DGD + planner) for GitOps.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"gitops_sla.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run the subcommand; returns its exit status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
