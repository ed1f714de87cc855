"""Subcommands of `gitops-sla`. Each module `gitops_sla/commands/<name>.py` has `register(subparsers)`, which
adds its parser and sets `handler` (a function of the parsed args returning the exit status). To add a
command, add a module and append its name here."""

COMMANDS: list[str] = ["validate", "init", "schemas", "demo", "reconcile", "status"]
