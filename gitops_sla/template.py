"""Creating a GitOps repository from `repo-template/`: a Git repository (pygit2) with one initial commit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pygit2

from gitops_sla import layout

# `repo-template/` at the project root; `gitops_sla/repo_template` links to it so wheels carry it too.
TEMPLATE_DIR = Path(__file__).resolve().parent / "repo_template"
INITIAL_COMMIT_MESSAGE = "Initial GitOps repository from the gitops-sla template"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store")


class InitError(Exception):
    """The repository cannot be created (the folder is not empty, the template is missing, ...)."""


def init_repository(
    directory: Path,
    *,
    branch: str = "main",
    template: Path = TEMPLATE_DIR,
    signature: pygit2.Signature | None = None,
) -> pygit2.Oid:
    """Copy the template into `directory` (new or empty), make it a Git repository on `branch` with one commit,
    and return that commit's id. `targetBranch` in `gitops-sla.yaml` is set to `branch`."""
    if not template.is_dir():
        raise InitError(f"repository template not found at {template}; reinstall gitops-sla from its source tree")
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise InitError(f"{directory} exists and is not an empty folder; choose a new folder")
    if not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
        raise InitError(f"{branch!r} is not a valid branch name")
    shutil.copytree(template, directory, symlinks=False, ignore=_IGNORED, dirs_exist_ok=True)
    config_file = directory / layout.REPO_CONFIG_FILE
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(re.sub(r"(?m)^targetBranch: .*$", f"targetBranch: {branch}", text), encoding="utf-8")
    repo = pygit2.init_repository(str(directory), initial_head=branch)
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    author = signature or pygit2.Signature("gitops-sla", "gitops-sla@localhost")
    return repo.create_commit(f"refs/heads/{branch}", author, author, INITIAL_COMMIT_MESSAGE, tree, [])
