"""Registers the fixtures of `reconcile_support` for the reconciler tests."""

from reconcile_support import git_server, profile_cache, remote

__all__ = ["git_server", "profile_cache", "remote"]
