"""`gitops-sla validate PATH...`: check request files and repo configs; exit 0 when all are valid, 1 otherwise.

Files given by name are checked as a repo config when named `gitops-sla.yaml` (or `kind: RepoConfig`), else as
a request. In folders, `gitops-sla.yaml` files, every YAML file under a `requests/` folder and any other YAML
file with `kind: DynamoGraphDeploymentRequest` (or a v1beta1 DGDR spec on its own) or `kind: RepoConfig` are
checked; `generated/` and hidden folders are skipped. A file inside a GitOps repository (a folder with `gitops-sla.yaml`) also gets the layout,
tenancy and base config checks of that repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitops_sla import layout
from gitops_sla.models import RepoConfig, ValidationIssue
from gitops_sla.validation import validate_repo_config, validate_request_file
from gitops_sla.yamlsafe import YamlError, load_yaml_file

FileKind = Literal["request", "repo-config"]
_YAML_SUFFIXES = (".yaml", ".yml")
_SKIPPED_DIRS = {layout.GENERATED_DIR, "node_modules", "__pycache__"}


@dataclass(frozen=True)
class FileReport:
    """The outcome for one file."""

    file: str
    kind: FileKind
    issues: list[ValidationIssue]

    @property
    def ok(self) -> bool:
        return not any(issue.severity == "error" for issue in self.issues)


def _peek_kind(path: Path) -> str | None:
    """The file's `kind`; a v1beta1 DGDR spec on its own (a top-level `model`, no kind) counts as a DGDR."""
    if path.is_symlink():
        return None
    try:
        data = load_yaml_file(path).data
    except YamlError:
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    if kind is None and "apiVersion" not in data and "model" in data:
        return "DynamoGraphDeploymentRequest"
    return kind if isinstance(kind, str) else None


def _under_requests(path: Path) -> bool:
    return layout.REQUESTS_DIR in path.parts[:-1]


def discover(paths: list[Path]) -> list[tuple[Path, FileKind]]:
    """The files to check and how, in a stable order; a path that does not exist is kept (and reported)."""
    found: list[tuple[Path, FileKind]] = []
    for path in paths:
        if not path.is_dir():
            is_config = path.name == layout.REPO_CONFIG_FILE or (
                path.is_file() and not _under_requests(path) and _peek_kind(path) == "RepoConfig"
            )
            found.append((path, "repo-config" if is_config else "request"))
            continue
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path).parts
            if any(part.startswith(".") or part in _SKIPPED_DIRS for part in relative[:-1]):
                continue
            if not file.name.endswith(_YAML_SUFFIXES):
                continue
            if file.is_symlink():  # reported, never read: its target may be any file of the host
                found.append((file, "repo-config" if file.name == layout.REPO_CONFIG_FILE else "request"))
                continue
            if not file.is_file():
                continue
            if file.name == layout.REPO_CONFIG_FILE:
                found.append((file, "repo-config"))
            elif _under_requests(file):
                found.append((file, "request"))
            else:
                kind = _peek_kind(file)
                if kind == "DynamoGraphDeploymentRequest":
                    found.append((file, "request"))
                elif kind == "RepoConfig":
                    found.append((file, "repo-config"))
    return list(dict.fromkeys(found))


def _repo_root(path: Path) -> Path | None:
    for folder in path.resolve().parents:
        if (folder / layout.REPO_CONFIG_FILE).is_file():
            return folder
    return None


def _repo_config(root: Path, cache: dict[Path, RepoConfig | None]) -> RepoConfig | None:
    if root not in cache:
        cache[root] = validate_repo_config(root / layout.REPO_CONFIG_FILE).config
    return cache[root]


def _links_out(path: Path) -> bool:
    """Whether `path` is a link, or a folder between it and the repository root above it is one."""
    if path.is_symlink():
        return True
    crossed = False
    for folder in path.absolute().parents:
        if (folder / layout.REPO_CONFIG_FILE).is_file() and not (folder / layout.REPO_CONFIG_FILE).is_symlink():
            return crossed
        crossed = crossed or folder.is_symlink()
    return False


def check_file(path: Path, kind: FileKind, config_cache: dict[Path, RepoConfig | None]) -> FileReport:
    """Validate one file, with its repository's settings when it lies in one."""
    name = str(path)
    if _links_out(path):
        issue = ValidationIssue(file=name, line=1, column=1, path="", message="is a symbolic link (or lies in a "
                                "linked folder); gitops-sla validate does not follow links, and Git stores a link, "
                                "not the file it points to: commit the file itself")
        return FileReport(name, kind, [issue])
    if not path.exists():
        issue = ValidationIssue(file=name, line=1, column=1, path="", message="no such file or folder")
        return FileReport(name, kind, [issue])
    if kind == "repo-config":
        return FileReport(name, kind, validate_repo_config(path, file=name).issues)
    root = _repo_root(path)
    if root is None:
        return FileReport(name, kind, validate_request_file(path, file=name).issues)
    repo_path = path.resolve().relative_to(root).as_posix()
    result = validate_request_file(
        path,
        file=name,
        repo_path=repo_path if layout.looks_like_request(repo_path) else None,
        repo_config=_repo_config(root, config_cache),
        base_exists=lambda base: (root / base).is_file(),
    )
    return FileReport(name, kind, result.issues)


def validate_paths(paths: list[Path]) -> list[FileReport]:
    """Check every file found under `paths`."""
    cache: dict[Path, RepoConfig | None] = {}
    return [check_file(path, kind, cache) for path, kind in discover(paths)]


def _print_text(reports: list[FileReport]) -> None:
    errors = warnings = 0
    for report in reports:
        for issue in report.issues:
            print(issue)
            errors += issue.severity == "error"
            warnings += issue.severity == "warning"
    bad = sum(not report.ok for report in reports)
    summary = f"{len(reports)} file(s) checked, {bad} invalid, {errors} error(s), {warnings} warning(s)"
    print(summary, file=sys.stderr)


def _print_json(reports: list[FileReport]) -> None:
    document = {
        "ok": all(report.ok for report in reports),
        "files": [
            {
                "file": report.file,
                "kind": report.kind,
                "ok": report.ok,
                "issues": [issue.model_dump(mode="json") for issue in report.issues],
            }
            for report in reports
        ],
    }
    print(json.dumps(document, indent=2))


def strictly(report: FileReport) -> FileReport:
    """The report with every warning made an error (`--strict`)."""
    issues = [issue.model_copy(update={"severity": "error"}) for issue in report.issues]
    return FileReport(report.file, report.kind, issues)


def run(args: argparse.Namespace) -> int:
    reports = validate_paths([Path(p) for p in args.paths])
    if args.strict:
        reports = [strictly(report) for report in reports]
    (_print_json if args.output == "json" else _print_text)(reports)
    return 0 if all(report.ok for report in reports) else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check DGDR request files and gitops-sla.yaml (files or folders)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to check")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text", help="output format")
    parser.add_argument("--strict", action="store_true", help="treat warnings (settings Dynamo accepts but ignores, "
                        "fields the API server set) as errors")
    parser.set_defaults(handler=run)
