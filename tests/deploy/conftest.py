"""Registers the fixtures of `deploy_support` (and the reconciler tests' Git fixtures) for the deploy tests."""

from deploy_support import git_server, kube, profile_cache, remote

__all__ = ["git_server", "kube", "profile_cache", "remote"]
