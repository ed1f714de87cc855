"""Both ways a push can be refused reach the writer as `PushRejected`, over a real `git http-backend`:

- the server refuses the ref update (here a `pre-receive` hook): pygit2 raises nothing and only calls
  `push_update_reference` with the server's message;
- the mirror's view of the branch is stale (someone pushed after our fetch): libgit2 raises a `GitError`.

The writer then fetches, rebuilds on the new head and keeps the other commit; a refusal that never goes away
ends in `PushConflict` after the bounded retries, with nothing pushed.
"""

from __future__ import annotations

import pygit2
import pytest
from reconcile_support import git

from gitops_sla.git import Changes, PushConflict, PushRejected, RetryPolicy, commit_changes

SIG = pygit2.Signature("t", "t@example.com")
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.0, max_delay_s=0.0, jitter=0.0)


def _decline_every_push(bare) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)


def test_server_side_refusal_arrives_only_through_push_update_reference(remote, tmp_path):
    mirror = remote.mirror(tmp_path / "cache")
    mirror.fetch()
    head = remote.branch_sha("main")
    _decline_every_push(remote.bare)
    tree = mirror.snapshot(head).tree_id
    commit = str(mirror.repo.create_commit(None, SIG, SIG,
                                           "x\n", tree, [head]))
    with pytest.raises(PushRejected) as refused:
        mirror.push(commit, "main")
    assert refused.value.ref == "refs/heads/main" and "declined" in refused.value.reason
    assert mirror.head("main") == head  # the tracking ref does not pretend the push happened

    seen: list[PushRejected] = []
    with pytest.raises(PushConflict, match="after 3 rejected attempts"):
        commit_changes(mirror, "main", lambda s: Changes({"note.txt": b"n"}), "add note", retry=FAST,
                       on_rejected=seen.append)
    assert len(seen) == 3
    assert remote.branch_sha("main") == head  # nothing reached the branch


def test_stale_mirror_push_is_rejected_then_rebuilt_on_the_new_head(remote, tmp_path):
    mirror = remote.mirror(tmp_path / "cache")
    mirror.fetch()
    stale = mirror.head("main")
    person = remote.person(tmp_path / "person")
    person.write("HUMAN.md", "mine\n")
    human = person.commit_and_push("a human commit")
    assert mirror.head("main") == stale != human

    # the GitError path on its own: a commit on the stale head
    commit = str(mirror.repo.create_commit(None, SIG, SIG,
                                           "x\n", mirror.snapshot(stale).tree_id, [stale]))
    with pytest.raises(PushRejected):
        mirror.push(commit, "main")

    heads_seen: list[str | None] = []

    def build(snapshot):
        heads_seen.append(snapshot.commit_id)
        return Changes({"generated/out.txt": b"out"})

    rejected: list[PushRejected] = []
    pushed = commit_changes(mirror, "main", build, "generate", retry=FAST, fetched=True, on_rejected=rejected.append)
    assert heads_seen == [stale, human] and len(rejected) == 1 and pushed.rejections == 1
    assert pushed.parent == human and remote.branch_sha("main") == pushed.commit
    assert git(remote.bare, "show", "main:HUMAN.md") == "mine\n"  # the human commit is kept, not overwritten
