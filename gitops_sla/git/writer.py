"""The Git writer: build a commit in memory on the fetched head, push it, regenerate on a lost race.

`build(snapshot)` computes the desired file changes from a snapshot of the branch head. When the push is
rejected (someone else pushed), the mirror is fetched and `build` runs again on the new head — regenerate,
don't rebase — with bounded, jittered backoff. `build` returning None, or changes that leave the tree as it
is, means "nothing to do": no empty commits. A human's commits are never overwritten: pushes are
fast-forward only, every new commit has the current remote head as its parent.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import pygit2

from gitops_sla.git.errors import PushConflict, PushRejected
from gitops_sla.git.mirror import Mirror
from gitops_sla.git.snapshot import Snapshot

log = logging.getLogger(__name__)

DEFAULT_AUTHOR = ("gitops-sla", "gitops-sla@users.noreply.github.com")


@dataclass(frozen=True)
class Changes:
    """Desired changes relative to a snapshot. `files` maps a path to its new bytes; None removes the file
    or the whole folder at that path. `message`/`trailers`, when set, replace/extend the caller's."""

    files: Mapping[str, bytes | None]
    message: str | None = None
    trailers: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter between push attempts."""

    max_attempts: int = 10
    base_delay_s: float = 0.05
    max_delay_s: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        raw = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return raw * (1 - self.jitter + 2 * self.jitter * random.random())


@dataclass(frozen=True)
class PushResult:
    """What `commit_changes` did. `commit` is None when there was nothing to commit."""

    branch: str
    commit: str | None
    parent: str | None
    attempts: int
    rejections: int = 0
    files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pushed(self) -> bool:
        return self.commit is not None


def format_message(message: str, trailers: Mapping[str, str] | None) -> str:
    """Subject/body plus a final trailer paragraph (`Key: value` lines, as `git interpret-trailers`)."""
    text = message.rstrip("\n")
    if trailers:
        text += "\n\n" + "\n".join(f"{key}: {value}" for key, value in trailers.items())
    return text + "\n"


def build_tree(repo: pygit2.Repository, base: pygit2.Tree | None, files: Mapping[str, bytes | None]) -> str:
    """Write the tree `base` + `files` and return its id; untouched subtrees are reused.

    None removes the file or folder at that path; a folder set to None *and* given files below it is
    replaced (its old content is dropped)."""
    grouped: dict[str, dict[str, bytes | None]] = {}
    leaves: dict[str, bytes | None] = {}
    for path, data in files.items():
        head, sep, rest = path.strip("/").partition("/")
        if sep:
            grouped.setdefault(head, {})[rest] = data
        else:
            leaves[head] = data
    builder = repo.TreeBuilder(base) if base is not None else repo.TreeBuilder()
    for name, data in leaves.items():
        if data is None:
            if builder.get(name) is not None:
                builder.remove(name)
        elif name not in grouped:
            builder.insert(name, repo.create_blob(data), pygit2.GIT_FILEMODE_BLOB)
    for name, sub in grouped.items():
        existing = builder.get(name)
        replace = name in leaves and leaves[name] is None
        sub_base = None
        if not replace and existing is not None and existing.type == pygit2.GIT_OBJECT_TREE:
            sub_base = repo.get(existing.id)
        sub_id = build_tree(repo, sub_base, sub)
        if len(repo.get(sub_id)) == 0:
            if builder.get(name) is not None:
                builder.remove(name)
        else:
            builder.insert(name, sub_id, pygit2.GIT_FILEMODE_TREE)
    return str(builder.write())


def _signature(author: tuple[str, str] | None) -> pygit2.Signature:
    name, email = author or DEFAULT_AUTHOR
    return pygit2.Signature(name, email)


def _commit(mirror: Mirror, tree_id: str, parents: list[str], message: str, author: tuple[str, str] | None) -> str:
    signature = _signature(author)
    return str(mirror.repo.create_commit(None, signature, signature, message, tree_id, parents))


@dataclass(frozen=True)
class _Prepared:
    """One attempt's commit, ready to push; `commit` None means there is nothing to do."""

    commit: str | None
    parent: str | None
    files: tuple[str, ...] = ()


def _push_regenerating(
    mirror: Mirror,
    branch: str,
    prepare: Callable[[], _Prepared],
    retry: RetryPolicy,
    fetched: bool,
    on_rejected: Callable[[PushRejected], None] | None,
) -> PushResult:
    """Fetch, `prepare` a commit on the fresh head, push it; after a rejection start over, with backoff."""
    rejections = 0
    for attempt in range(1, retry.max_attempts + 1):
        if attempt > 1 or not fetched:
            mirror.fetch()
        prepared = prepare()
        if prepared.commit is None:
            return PushResult(branch, None, prepared.parent, attempt, rejections)
        try:
            mirror.push(prepared.commit, branch)
        except PushRejected as exc:
            rejections += 1
            if on_rejected is not None:
                on_rejected(exc)
            log.info("push to %s lost a race (attempt %d/%d): %s", branch, attempt, retry.max_attempts, exc.reason)
            if attempt < retry.max_attempts:
                time.sleep(retry.delay(attempt))
            continue
        return PushResult(branch, prepared.commit, prepared.parent, attempt, rejections, prepared.files)
    raise PushConflict(f"gave up pushing to {branch} after {retry.max_attempts} rejected attempts; "
                       "the next pass tries again")


def _message(message: str, trailers: Mapping[str, str] | None, changes: Changes) -> str:
    return format_message(changes.message or message, {**(trailers or {}), **(changes.trailers or {})})


def commit_changes(
    mirror: Mirror,
    branch: str,
    build: Callable[[Snapshot], Changes | None],
    message: str,
    trailers: Mapping[str, str] | None = None,
    *,
    author: tuple[str, str] | None = None,
    retry: RetryPolicy = RetryPolicy(),
    fetched: bool = False,
    on_rejected: Callable[[PushRejected], None] | None = None,
) -> PushResult:
    """Commit `build(head snapshot)` on top of the remote `branch` and push it (fast-forward only).

    `fetched=True` skips the first fetch when the caller has just fetched. After each rejection the mirror
    is fetched and `build` re-runs on the new head. Raises `PushConflict` after `retry.max_attempts`
    rejections, `GitAuthError`/`GitSyncError` on other failures (nothing is pushed then)."""

    def prepare() -> _Prepared:
        head = mirror.head(branch)
        snapshot = mirror.snapshot(head)
        changes = build(snapshot)
        if changes is None or not changes.files:
            return _Prepared(None, head)
        tree_id = build_tree(mirror.repo, snapshot.tree if head else None, changes.files)
        if tree_id == snapshot.tree_id:
            return _Prepared(None, head)
        commit_id = _commit(mirror, tree_id, [head] if head else [], _message(message, trailers, changes), author)
        return _Prepared(commit_id, head, tuple(sorted(changes.files)))

    return _push_regenerating(mirror, branch, prepare, retry, fetched, on_rejected)


def commit_to_side_branch(
    mirror: Mirror,
    branch: str,
    base_branch: str,
    build: Callable[[Snapshot], Changes | None],
    message: str,
    trailers: Mapping[str, str] | None = None,
    *,
    author: tuple[str, str] | None = None,
    retry: RetryPolicy = RetryPolicy(),
    fetched: bool = False,
    on_rejected: Callable[[PushRejected], None] | None = None,
) -> PushResult:
    """Put `base head + build(base head snapshot)` on `branch` (e.g. a pull-request branch) without force.

    The new commit's tree is the base branch's tree plus the changes, so the pull request shows exactly the
    changes. Its parents are the branch's current tip (when it exists) and the base head (when the tip
    does not contain it yet), so the push is always a fast-forward and no earlier commit on the branch is
    lost. No commit when the branch already has exactly that tree."""

    def prepare() -> _Prepared:
        base_head = mirror.head(base_branch)
        tip = mirror.head(branch)
        snapshot = mirror.snapshot(base_head)
        changes = build(snapshot)
        if changes is None or not changes.files:
            return _Prepared(None, tip)
        tree_id = build_tree(mirror.repo, snapshot.tree if base_head else None, changes.files)
        if tip is not None and str(mirror.snapshot(tip).tree_id) == tree_id:
            return _Prepared(None, tip)
        if tip is None:
            parents = [base_head] if base_head else []
        elif base_head is None or mirror.is_ancestor(base_head, tip):
            parents = [tip]
        else:
            parents = [tip, base_head]
        commit_id = _commit(mirror, tree_id, parents, _message(message, trailers, changes), author)
        return _Prepared(commit_id, tip, tuple(sorted(changes.files)))

    return _push_regenerating(mirror, branch, prepare, retry, fetched, on_rejected)
