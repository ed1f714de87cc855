"""Git in, Git out: a bare mirror read with pygit2, commits built in memory, safe pushes.

Public API (also used by the planner for its `replicas.yaml` commits)::

    mirror = Mirror(url_or_path, cache_dir=None, credentials=GitCredentials.resolve(), ssh=SshKey.resolve())
    result = commit_changes(mirror, "main", build, "message", {"Trailer": "value"})
    # build(snapshot: Snapshot) -> Changes | None, re-run on the fresh head after each lost race
"""

from gitops_sla.git.auth import GitCredentials, SshKey, redact_url
from gitops_sla.git.errors import GitAuthError, GitSyncError, PushConflict, PushRejected
from gitops_sla.git.mirror import Mirror
from gitops_sla.git.snapshot import Snapshot
from gitops_sla.git.writer import (
    Changes,
    PushResult,
    RetryPolicy,
    build_tree,
    commit_changes,
    commit_to_side_branch,
    format_message,
)

__all__ = [
    "Changes", "GitAuthError", "GitCredentials", "GitSyncError", "Mirror", "PushConflict", "PushRejected",
    "PushResult", "RetryPolicy", "Snapshot", "SshKey", "build_tree", "commit_changes", "commit_to_side_branch",
    "format_message", "redact_url",
]
