"""The `planner` section of `gitops-sla.yaml` as planner passthrough keys of every request's profile config.

The reconciler merges these keys under a request's `profilingConfig.config.planner` before profiling (the
request's own keys win), so each generated Planner service carries the repository's mode and, in git mode,
where and how to commit: `--mode`, `--git-repo`, `--git-branch`, `--git-path`, `--git-commit-period`,
`--git-pull-request`. The keys are computed once per pass, and so is their digest, which is part of every
request's spec hash: changing the planner settings (or the URL they default to) regenerates every request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from gitops_sla import layout
from gitops_sla.models import RepoConfig
from gitops_sla.models.repo_config import is_remote_url
from gitops_sla.replicas_patch import REPLICAS_FILE
from gitops_sla.secrets import redact_url, strip_userinfo
from profiler.config import ProfileConfig

log = logging.getLogger(__name__)
GIT_PATH_KEY = "planner_git_path"
GIT_TARGET_KEYS = ("planner_git_repo", "planner_git_branch", GIT_PATH_KEY)


_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?(?P<host>[^/\s:]+):(?P<path>.+)$")


def repository_identity(url: str) -> tuple[str, str] | None:
    """`(host, path)` of a remote URL, the same for its https, ssh and scp-like spellings (`.git`, credentials,
    ports, case of the host ignored); None for a local path."""
    if not is_remote_url(url):
        return None
    if "://" in url:
        parsed = urllib.parse.urlsplit(url)
        host, path = parsed.hostname or "", parsed.path
    else:
        match = _SCP_LIKE.match(url)
        if match is None:
            return None
        host, path = match["host"], match["path"]
    return host.lower(), path.strip("/").removesuffix(".git").strip("/")


def planner_repo_url(config: RepoConfig, reconciler_url: str | None) -> str | None:
    """The URL the planner pods push to: this repository. `planner.gitRepo` may spell it differently (an https
    URL where the reconciler reads over ssh, or a URL where it reads a local mirror) but never name another
    repository: where the planner's token goes is not the repository's choice. Else the reconciler's URL without
    any `user:password@` (credentials never go into a DGD); None when that is a local path."""
    own = repository_identity(reconciler_url) if reconciler_url else None
    wanted = config.planner.git_repo
    if wanted and (own is None or repository_identity(wanted) == own):
        return wanted
    if wanted:
        log.warning("%s: planner.gitRepo %s names another repository than the reconciler's (%s); the planner "
                    "pushes to the reconciler's repository", layout.REPO_CONFIG_FILE, redact_url(wanted),
                    redact_url(reconciler_url or ""))
    if reconciler_url is None or own is None:
        return None
    return strip_userinfo(reconciler_url)


@dataclass(frozen=True)
class RepoPlannerKeys:
    """Planner passthrough keys from `gitops-sla.yaml`, the same for every request of a pass.

    `mode` is the repository's planner mode; `git` the keys a request whose effective mode is git gets (its
    `planner_git_path` is added per request); `image` this project's planner image (None: Dynamo's own
    planner, which takes none of these keys); `dynamo_version` the cluster's Dynamo (None: by each request's
    API version); `digest` covers them all (the git keys in git mode) and goes into every spec hash."""

    mode: str
    git: dict[str, Any]
    digest: str
    image: str | None = None
    dynamo_version: str | None = None

    @classmethod
    def from_config(cls, config: RepoConfig, reconciler_url: str | None) -> "RepoPlannerKeys":
        settings = config.planner
        git: dict[str, Any] = {"planner_git_branch": config.target_branch,
                               "planner_git_commit_period": settings.commit_period_seconds}
        if settings.pull_request:
            git["planner_git_pull_request"] = True
        url = planner_repo_url(config, reconciler_url)
        if url is not None:
            git["planner_git_repo"] = url
        # The git keys count only in git mode, so the URL the reconciler reads matters only there (a request
        # that sets planner_mode: git itself in another mode is re-rendered when the request changes).
        text = json.dumps({"mode": settings.mode, "git": git if settings.mode == "git" else {},
                           "image": settings.image, "dynamo": config.dynamo.version}, sort_keys=True)
        return cls(settings.mode, git, hashlib.sha256(text.encode()).hexdigest()[:16], settings.image,
                   config.dynamo.version)

    def missing_repo_url(self) -> bool:
        """This project's planner in git mode, but no URL its pods could push to (the reconciler reads a local
        path)."""
        return self.image is not None and self.mode == "git" and "planner_git_repo" not in self.git

    def apply(self, profile_config: ProfileConfig, namespace: str, name: str) -> ProfileConfig:
        """The request's profile config with the repository's planner keys under its own (the request's keys
        win). When the effective mode is git it also gets the git keys; the Git target (`planner_git_repo`,
        `planner_git_branch` and `planner_git_path`, the request's own `replicas.yaml`) is always the
        reconciler's: validation refuses a request that sets it, and it is overwritten here in any case."""
        own = {key: value for key, value in profile_config.planner.items() if key not in GIT_TARGET_KEYS}
        merged: dict[str, Any] = {"planner_mode": self.mode}
        if own.get("planner_mode", self.mode) == "git":
            merged.update(self.git)
            merged[GIT_PATH_KEY] = layout.generated_file(namespace, name, REPLICAS_FILE)
        merged.update(own)
        return profile_config.model_copy(update={"planner": merged})
