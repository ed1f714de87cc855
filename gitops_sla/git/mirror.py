"""A local bare mirror of a remote repository: fetched, read with pygit2, pushed to. No work tree.

Remote branches are fetched to `refs/remotes/origin/*`. Commits made here are pushed from a scratch ref
(`refs/gitops-sla/push/<branch>`); a push succeeds only if the server accepted the ref update, which
pygit2 reports through `push_update_reference` (no exception) or, for a stale local view, a `GitError`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Iterator

import pygit2

from gitops_sla.git.auth import GitCredentials, RemoteCallbacks, SshKey, redact_url, ssh_host
from gitops_sla.git.errors import GitAuthError, GitSyncError, PushRejected
from gitops_sla.git.known_hosts import use_known_hosts
from gitops_sla.git.snapshot import Snapshot

log = logging.getLogger(__name__)

TRACKING_PREFIX = "refs/remotes/origin/"
PUSH_PREFIX = "refs/gitops-sla/push/"
_REJECTION_HINTS = ("cannot push", "non-fast", "not present locally", "failed to update ref", "fetch first",
                    "stale info", "incorrect old value", "cannot lock ref")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-sla" / "mirrors"


def _remote_url(url_or_path: str) -> str:
    """A URL as given, or an existing local path made absolute (libgit2 resolves it relative to the mirror)."""
    if "://" in url_or_path or ssh_host(url_or_path):
        return url_or_path
    path = Path(url_or_path).expanduser().resolve()
    if not path.is_dir():
        raise GitSyncError(f"repository {url_or_path} does not exist; pass a Git URL (https://..., ssh://..., "
                           "git@host:path) or the path of an existing repository")
    return str(path)


class Mirror:
    """A bare mirror of `url` under `cache_dir` (one folder per URL)."""

    def __init__(self, url: str, cache_dir: Path | None = None, credentials: GitCredentials | None = None,
                 ssh: SshKey | None = None):
        self.url = _remote_url(url)
        self.credentials = credentials
        self.ssh = ssh
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.path = (cache_dir or default_cache_dir()) / f"{digest}.git"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if ssh is not None and ssh.known_hosts_file is not None and ssh_host(self.url):
            use_known_hosts(ssh.known_hosts_file, self.path.parent / "ssh-home")
        with self._locked():
            if (self.path / "HEAD").exists():
                self.repo = pygit2.Repository(str(self.path))
            else:
                self.repo = pygit2.init_repository(str(self.path), bare=True)
            if "origin" not in self.repo.remotes.names():
                self.repo.remotes.create("origin", self.url, "+refs/heads/*:refs/remotes/origin/*")
            elif self.repo.remotes["origin"].url != self.url:
                self.repo.remotes.set_url("origin", self.url)

    def __repr__(self) -> str:
        return f"Mirror({redact_url(self.url)!r}, path={str(self.path)!r})"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialises mutating operations of processes that share one mirror folder."""
        with open(self.path.parent / f"{self.path.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _callbacks(self) -> RemoteCallbacks:
        return RemoteCallbacks(self.credentials, self.url, self.ssh)

    def _git_error(self, action: str, exc: pygit2.GitError) -> GitSyncError:
        return GitSyncError(redact_url(f"{action} {self.url} failed: {exc}"))

    def remote_heads(self) -> dict[str, str]:
        """Branch -> commit id on the remote (one ls-remote round trip, nothing downloaded)."""
        try:
            heads = self.repo.remotes["origin"].list_heads(callbacks=self._callbacks())
        except GitAuthError:
            raise
        except pygit2.GitError as exc:
            raise self._git_error("listing branches of", exc) from None
        return {h.name.removeprefix("refs/heads/"): str(h.oid) for h in heads if h.name.startswith("refs/heads/")}

    def fetch(self) -> None:
        """Fetch every branch (pruning deleted ones) into `refs/remotes/origin/*`."""
        with self._locked():
            try:
                self.repo.remotes["origin"].fetch(callbacks=self._callbacks(), prune=pygit2.enums.FetchPrune.PRUNE)
            except GitAuthError:
                raise
            except pygit2.GitError as exc:
                raise self._git_error("fetching", exc) from None

    def head(self, branch: str) -> str | None:
        """The fetched commit id of `branch`, None when the remote has no such branch."""
        ref = self.repo.references.get(TRACKING_PREFIX + branch)
        return str(ref.target) if ref is not None else None

    def snapshot(self, commit_id: str | None) -> Snapshot:
        return Snapshot.of(self.repo, commit_id)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return ancestor == descendant or self.repo.descendant_of(descendant, ancestor)

    def push(self, commit_id: str, branch: str) -> None:
        """Update remote `branch` to `commit_id` (fast-forward only). Raises `PushRejected` when the server
        refused the update or the local view is stale, `GitAuthError` on bad credentials."""
        scratch = PUSH_PREFIX + branch
        target = "refs/heads/" + branch
        with self._locked():
            self.repo.references.create(scratch, commit_id, force=True)
            callbacks = self._callbacks()
            try:
                self.repo.remotes["origin"].push([f"{scratch}:{target}"], callbacks=callbacks)
            except GitAuthError:
                raise
            except pygit2.GitError as exc:
                if any(hint in str(exc).lower() for hint in _REJECTION_HINTS):
                    raise PushRejected(target, str(exc)) from None
                raise self._git_error("pushing to", exc) from None
            if callbacks.rejected:
                raise PushRejected(target, "; ".join(callbacks.rejected.values()))
            self.repo.references.create(TRACKING_PREFIX + branch, commit_id, force=True)
