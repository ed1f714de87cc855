"""Errors of the Git layer: each says what happened and what to do."""

from __future__ import annotations


class GitSyncError(Exception):
    """A Git operation with the remote failed (network, server, unexpected state)."""


class GitAuthError(GitSyncError):
    """The remote refused the credentials or none were configured. Never retried."""


class PushRejected(GitSyncError):
    """The remote refused a ref update (someone else pushed first, or a non-fast-forward was refused)."""

    def __init__(self, ref: str, reason: str):
        super().__init__(f"push to {ref} rejected: {reason}")
        self.ref = ref
        self.reason = reason


class PushConflict(GitSyncError):
    """Every retry lost the race; the change was not pushed (the next pass tries again)."""
