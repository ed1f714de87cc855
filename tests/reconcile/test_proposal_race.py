"""Racing reconcilers never put two identical "generate DGD" commits on a pull-request branch: a reconciler
that decided to propose before another one's proposal was visible, and rebuilds on a target branch that moved
meanwhile, finds the branch already proposing exactly its folder and commits nothing."""

from __future__ import annotations

from reconcile_support import request_yaml
from support.git_http import git

from gitops_sla.git import Mirror
from gitops_sla.reconcile.engine import Reconciler
from gitops_sla.reconcile.profiling import InlineBackend
from gitops_sla.reconcile.offline import offline_profile
from profiler.version import PROFILER_VERSION

BRANCH = "gitops-sla/team-a/chat"


class LateMirror(Mirror):
    """A mirror whose first look at the pull-request branch happens before the other reconciler's push is
    visible (the moment of the race; every later look, and the push, are the real remote's)."""

    late = True

    def head(self, branch: str) -> str | None:
        if branch == BRANCH and self.late:
            self.late = False
            return None
        return super().head(branch)


def test_a_racing_reconciler_adds_no_identical_proposal_commit(remote, tmp_path, profile_cache):
    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat", auto_apply=False))
    person.commit_and_push("chat, for review")
    backend = InlineBackend(profile_cache.wrap(offline_profile), PROFILER_VERSION)
    first = Reconciler(remote.mirror(tmp_path / "first"), backend)
    assert [o.action for o in first.run_pass(full=True).worked] == ["pull-request"]
    tip = remote.branch_sha(BRANCH)
    person.write("README.md", "the target branch moves on\n")
    person.commit_and_push("unrelated change on main")

    late = Reconciler(LateMirror(remote.url, tmp_path / "late", remote.credentials), backend)
    [outcome] = late.run_pass(full=True).worked

    assert outcome.action == "pull-request" and outcome.commit is None
    assert remote.branch_sha(BRANCH) == tip
    assert git(remote.bare, "log", "--format=%s", BRANCH).count("generate DGD for review") == 1
