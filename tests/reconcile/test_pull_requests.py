"""autoApply: false -> branch `gitops-sla/<ns>/<name>` + one pull request (GitLab: merge request) on each forge's
loopback fake: GitHub, GitLab, Gitea."""

from __future__ import annotations

import re

import yaml

from reconcile_support import cached_reconciler, request_yaml
import pytest
from support.forges import KINDS, start_forge
from support.git_http import git

from gitops_sla.forge import ForgeSettings, open_forge
from gitops_sla.reconcile.output import pr_body

REQ = "requests/team-a/chat.yaml"
OUT = "generated/team-a/chat"
BRANCH = "gitops-sla/team-a/chat"


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


def test_pull_request_mode_one_branch_one_pr(remote, tmp_path, profile_cache, kind):
    fake, forge = start_forge(kind, remote.branch_sha)
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat", auto_apply=False))
    person.commit_and_push("add chat for review")
    main_before = remote.branch_sha("main")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge)

    report = reconciler.run_pass(full=True)

    [outcome] = report.worked
    assert (outcome.action, outcome.state) == ("pull-request", "Pending")  # review pending: nothing is deployed
    assert remote.branch_sha("main") == main_before  # nothing on the target branch
    [pull] = fake.pulls
    assert (pull["head"], pull["base"], pull["state"]) == (BRANCH, "main", "open")
    assert pull["sha"] == remote.branch_sha(BRANCH)
    assert "TTFT" in pull["body"] and f"{OUT}/" in pull["body"] and ".svg" in pull["body"]
    # every plot is shown once, from the branch (a link relative to the report's folder breaks in a PR body)
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", pull["body"])
    plots = sorted(p for p in git(remote.bare, "ls-tree", "--name-only", BRANCH, f"{OUT}/").split() if p.endswith(".svg"))
    assert sorted(images) == [f"../blob/{BRANCH}/{p}?raw=true" for p in plots] and plots
    assert [call[1].split("/")[-2:] for call in fake.calls if call[0] == "POST"] == [
        ["org%2Fgitops", "merge_requests"] if kind == "gitlab" else ["gitops", "pulls"],
        ["statuses", remote.branch_sha(BRANCH)]]
    # the proposal's commit shows it awaits review: the forge's pending state (GitLab: running)
    [awaiting] = fake.statuses
    assert (awaiting["sha"], awaiting["state"], awaiting["context"]) == \
        (remote.branch_sha(BRANCH), "running" if kind == "gitlab" else "pending", "gitops-sla/team-a/chat")
    assert awaiting["description"].startswith("AwaitingReview: ")
    diff = git(remote.bare, "diff", "--name-only", "main", BRANCH).split()
    assert diff and all(path.startswith(f"{OUT}/") for path in diff)

    # A second pass (and a new process) change nothing: no new commit, no second pull request.
    tip = remote.branch_sha(BRANCH)
    assert reconciler.run_pass().idle
    other = cached_reconciler(remote, tmp_path / "cache2", profile_cache, forge=forge)
    assert other.run_pass(full=True).commits == []
    assert len(fake.pulls) == 1 and remote.branch_sha(BRANCH) == tip

    # An edit updates the same branch (fast-forward, no force) and the same pull request.
    person.write(REQ, request_yaml("chat", ttft=300.0, auto_apply=False))
    person.commit_and_push("tighter TTFT")
    report = reconciler.run_pass()
    assert len(report.commits) == 1 and len(fake.pulls) == 1
    new_tip = remote.branch_sha(BRANCH)
    assert git(remote.bare, "merge-base", "--is-ancestor", tip, new_tip) == ""  # no history rewritten
    assert fake.pulls[0]["sha"] == new_tip and "300" in fake.pulls[0]["body"]
    assert [s["sha"] for s in fake.statuses] == [tip, new_tip]  # the new proposal awaits review too

    # The reviewer merges: main now holds the output, its status turns to Deploying (one status-only commit,
    # which also lists the folder in the index of generated/), no new pull request.
    person.pull()
    git(person.root, "fetch", "-q", "origin")
    git(person.root, "merge", "-q", "--no-ff", f"origin/{BRANCH}", "-m", "Merge pull request #1")
    git(person.root, "push", "-q", "origin", "HEAD:main")
    fake.merge(1)
    report = reconciler.run_pass()
    assert [(o.action, o.state) for o in report.worked] == [("generated", "Deploying")]
    assert len(report.commits) == 1 and len(fake.pulls) == 1
    status = yaml.safe_load(git(remote.bare, "show", f"main:{OUT}/status.yaml"))
    assert status["status"]["state"] == "Deploying" and status["result"]["targetTtftMs"] == 300.0
    assert "- \"team-a/chat\"" in git(remote.bare, "show", "main:generated/kustomization.yaml")
    assert reconciler.run_pass().idle and other.run_pass(full=True).worked == []
    fake.stop()


def test_pr_body_links_the_reports_plots_to_the_branch_and_lists_the_others():
    report = "# Report\n\n![Prefill](prefill.png)\n\n## Warnings\n\n- w\n"
    body = pr_body(("team-a", "chat"), report, ["prefill.png", "extra.png"], ["w"], BRANCH, "sha256:x", "abc")
    assert "](prefill.png)" not in body
    assert body.count(f"![Prefill](../blob/{BRANCH}/{OUT}/prefill.png?raw=true)") == 1
    assert body.count("prefill.png") == 1  # not shown twice
    assert f"### Plots\n\n![extra.png](../blob/{BRANCH}/{OUT}/extra.png?raw=true)" in body
    assert body.count("## Warnings") == 1 and "`abc`" in body and "`sha256:x`" in body


def test_closed_pull_request_is_recognised_not_reopened(remote, tmp_path, profile_cache, kind):
    fake, forge = start_forge(kind, remote.branch_sha)
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat", auto_apply=False))
    person.commit_and_push("add chat for review")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge)
    reconciler.run_pass(full=True)
    fake.close(1)
    report = cached_reconciler(remote, tmp_path / "cache2", profile_cache, forge=forge).run_pass(full=True)
    [outcome] = report.worked
    assert outcome.pull_request.state == "closed" and "closed" in outcome.message
    assert len(fake.pulls) == 1 and report.commits == []
    # Editing the request makes a new proposal: a new pull request on the same branch.
    person.write(REQ, request_yaml("chat", ttft=300.0, auto_apply=False))
    person.commit_and_push("try again")
    reconciler.run_pass()
    assert [p["state"] for p in fake.pulls] == ["closed", "open"]
    fake.stop()


def test_forge_token_never_appears_in_errors(remote, tmp_path, profile_cache, kind):
    fake, _ = start_forge(kind, remote.branch_sha, token="right-token")
    forge = open_forge(ForgeSettings(fake.api_url, "org/gitops", "wrong-secret-token", kind))
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat", auto_apply=False))
    person.commit_and_push("add chat for review")
    report = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge).run_pass(full=True)
    [outcome] = report.worked
    assert outcome.action == "error" and "refused the token" in outcome.message
    assert "wrong-secret-token" not in outcome.message and "wrong-secret-token" not in repr(forge)
    assert fake.pulls == []
    # The branch was pushed; with a good token the next pass only opens the pull request.
    good = open_forge(ForgeSettings(fake.api_url, "org/gitops", "right-token", kind))
    report = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=good).run_pass(full=True)
    assert report.commits == [] and len(fake.pulls) == 1
    fake.stop()


def test_switch_to_auto_apply_or_delete_closes_the_open_pull_request(remote, tmp_path, profile_cache, kind):
    fake, forge = start_forge(kind, remote.branch_sha)
    person = remote.person(tmp_path / "person")
    person.write(REQ, request_yaml("chat", auto_apply=False))
    person.write("requests/team-a/other.yaml", request_yaml("other", auto_apply=False))
    person.commit_and_push("two requests for review")
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge)
    reconciler.run_pass(full=True)
    assert [p["state"] for p in fake.pulls] == ["open", "open"]

    person.write(REQ, request_yaml("chat", auto_apply=True))
    person.remove("requests/team-a/other.yaml")
    person.commit_and_push("chat goes straight to main; other is dropped")
    report = reconciler.run_pass()
    actions = {o.name: o.action for o in report.worked}
    assert actions == {"chat": "generated", "other": "deleted"}
    assert {p["head"]: p["state"] for p in fake.pulls} == {BRANCH: "closed", "gitops-sla/team-a/other": "closed"}
    assert reconciler.run_pass().idle
    status = yaml.safe_load(git(remote.bare, "show", f"main:{OUT}/status.yaml"))
    assert status["status"]["state"] == "Deploying"
    fake.stop()
