"""Forge APIs for pull requests (GitHub REST v3)."""

from gitops_sla.forge.github import (
    ForgeError,
    ForgeSettings,
    GitHubForge,
    PullRequest,
    ensure_pull_request,
    owner_repo_from_url,
)

__all__ = ["ForgeError", "ForgeSettings", "GitHubForge", "PullRequest", "ensure_pull_request", "owner_repo_from_url"]
