"""`gitops-sla demo` (interim): create a throwaway GitOps repository from the template and validate the
quick-start's AI Configurator request in it. No cluster, no GPU, no network."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pygit2

from gitops_sla import layout
from gitops_sla.commands.validate import validate_paths
from gitops_sla.template import init_repository

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "quickstart-aic.yaml"


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="gitops-sla-demo-") as tmp:
        root = Path(tmp) / "repo"
        commit = init_repository(root)
        print(f"1. Created a GitOps repository from the template in {root} (commit {str(commit)[:12]}).")
        request = root / layout.request_path("default", "sla-aic")
        same = request.read_text(encoding="utf-8").splitlines()[1:] == EXAMPLE.read_text(encoding="utf-8").splitlines()
        print(f"2. The quick-start's AI Configurator DGDR is at {request.relative_to(root)}"
              f"{' (identical to ' + EXAMPLE.name + ')' if same else ''}.")
        repo = pygit2.Repository(str(root))
        files = sorted(entry for entry in _tree_paths(repo.head.peel(pygit2.Tree)))
        print(f"3. The initial commit holds {len(files)} files: " + ", ".join(files[:6]) + ", ...")
        reports = validate_paths([root])
        print(f"4. gitops-sla validate {root}: {len(reports)} file(s) checked")
        for report in reports:
            state = "valid" if report.ok else "INVALID"
            print(f"   {Path(report.file).relative_to(root)}: {state}")
            for issue in report.issues:
                print(f"     {issue}")
        ok = all(report.ok for report in reports)
        print("Done: the request is valid; profiling and reconciling arrive with the reconciler." if ok
              else "Done: validation found errors (see above).")
        return 0 if ok else 1


def _tree_paths(tree: pygit2.Tree, prefix: str = "") -> list[str]:
    paths: list[str] = []
    for entry in tree:
        if entry.type_str == "tree":
            paths.extend(_tree_paths(entry, f"{prefix}{entry.name}/"))  # type: ignore[arg-type]
        else:
            paths.append(f"{prefix}{entry.name}")
    return paths


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="throwaway repository + validation of the quick-start DGDR",
                                   description=__doc__)
    parser.set_defaults(handler=run)
