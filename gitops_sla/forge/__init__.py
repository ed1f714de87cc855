"""Forge APIs for pull requests and commit statuses: GitHub REST v3, GitLab REST v4 (merge requests), Gitea
API v1. The operator picks the kind (`--forge` / `GITOPS_SLA_FORGE_KIND`); `open_forge` builds it."""

from gitops_sla.forge.base import (
    FORGE_KINDS,
    CommitState,
    Forge,
    ForgeError,
    ForgeKind,
    ForgeSettings,
    PullRequest,
    ensure_pull_request,
    owner_repo_from_url,
)
from gitops_sla.forge.gitea import GiteaForge
from gitops_sla.forge.github import GitHubForge
from gitops_sla.forge.gitlab import GitLabForge

_CLASSES = {"github": GitHubForge, "gitlab": GitLabForge, "gitea": GiteaForge}


def open_forge(settings: ForgeSettings, timeout_s: float = 30.0) -> Forge:
    """The client for `settings.kind`."""
    return _CLASSES[settings.kind](settings, timeout_s)


__all__ = ["FORGE_KINDS", "CommitState", "Forge", "ForgeError", "ForgeKind", "ForgeSettings", "GitHubForge",
           "GitLabForge", "GiteaForge", "PullRequest", "ensure_pull_request", "open_forge", "owner_repo_from_url"]
