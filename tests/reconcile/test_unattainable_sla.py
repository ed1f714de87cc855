"""`onUnattainableSla` in gitops-sla.yaml: an SLA no configuration meets is proposed for review (default),
committed, or failed; the `SlaAttainable` condition gives the targets against the best found."""

from __future__ import annotations

import pytest
import yaml

from reconcile_support import cached_reconciler, request_yaml, seed_remote
from support.fake_github import FakeGitHub
from support.git_http import git

from gitops_sla.forge import ForgeSettings, GitHubForge

REQ = "requests/team-a/fast.yaml"
OUT = "generated/team-a/fast"
BRANCH = "gitops-sla/team-a/fast"


def _config(action: str | None) -> str:
    line = f"onUnattainableSla: {action}\n" if action else ""
    return f"apiVersion: gitops-sla.dev/v1alpha1\nkind: RepoConfig\ndefaultMode: commit\n{line}"


def _unattainable() -> str:
    """autoApply: true and an ITL of 2 ms, which no configuration meets."""
    return request_yaml("fast").replace("itl: 30.0", "itl: 2.0")


def _sla_condition(status: dict) -> dict:
    [condition] = [c for c in status["status"]["conditions"] if c["type"] == "SlaAttainable"]
    return condition


@pytest.mark.parametrize("action", [None, "pull-request"])
def test_by_default_an_unattainable_sla_is_proposed_for_review_even_with_auto_apply(
        git_server, tmp_path, profile_cache, action):
    remote = seed_remote(git_server, tmp_path, config=_config(action))
    fake = FakeGitHub("org", "gitops", "t0ken", remote.branch_sha).start()
    try:
        forge = GitHubForge(ForgeSettings(fake.api_url, "org/gitops", "t0ken"))
        person = remote.person(tmp_path / "person")
        person.write(REQ, _unattainable())
        person.commit_and_push("an ITL of 2 ms")
        main_before = remote.branch_sha("main")

        report = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge).run_pass(full=True)

        [outcome] = report.worked
        assert (outcome.action, outcome.state) == ("pull-request", "Pending")
        assert remote.branch_sha("main") == main_before  # nothing deployed
        assert "SLA not attainable" in git(remote.bare, "log", "-1", "--format=%s", BRANCH)
        [pull] = fake.pulls
        assert pull["title"].endswith("SLA not attainable")
        status = yaml.safe_load(git(remote.bare, "show", f"{BRANCH}:{OUT}/status.yaml"))
        condition = _sla_condition(status)
        assert (condition["status"], condition["reason"]) == ("False", "SlaNotAttainable")
        assert "Target TTFT 500 ms, ITL 2 ms; best found TTFT" in condition["message"]
        [review] = [c for c in status["status"]["conditions"] if c["type"] == "DeploymentReady"]
        assert review["reason"] == "AwaitingReview" and BRANCH in review["message"]
    finally:
        fake.stop()


def test_commit_deploys_an_unattainable_sla_and_says_so(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=_config("commit"))
    person = remote.person(tmp_path / "person")
    person.write(REQ, _unattainable())
    person.commit_and_push("an ITL of 2 ms")

    [outcome] = cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True).worked

    assert (outcome.action, outcome.state) == ("generated", "Deploying")
    assert "SLA not attainable" in git(remote.bare, "log", "-1", "--format=%s", "main")
    status = yaml.safe_load(git(remote.bare, "show", f"main:{OUT}/status.yaml"))
    assert _sla_condition(status)["status"] == "False"


def test_fail_generates_nothing_and_gives_target_against_best(git_server, tmp_path, profile_cache):
    remote = seed_remote(git_server, tmp_path, config=_config("fail"))
    person = remote.person(tmp_path / "person")
    person.write(REQ, _unattainable())
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))  # attainable: deployed as usual
    person.commit_and_push("an ITL of 2 ms, and a request that meets its SLA")

    report = cached_reconciler(remote, tmp_path / "cache", profile_cache).run_pass(full=True)

    assert {(o.name, o.action, o.state) for o in report.worked} == {("fast", "failed", "Failed"),
                                                                    ("chat", "generated", "Deploying")}
    files = git(remote.bare, "ls-tree", "--name-only", "main", f"{OUT}/").split()
    assert sorted(files) == [f"{OUT}/kustomization.yaml", f"{OUT}/status.yaml"]
    status = yaml.safe_load(git(remote.bare, "show", f"main:{OUT}/status.yaml"))
    condition = _sla_condition(status)
    assert (condition["status"], condition["reason"]) == ("False", "SlaNotAttainable")
    assert "ITL 2 ms; best found" in condition["message"] and "onUnattainableSla: fail" in condition["message"]
    chat = yaml.safe_load(git(remote.bare, "show", "main:generated/team-a/chat/status.yaml"))
    assert (_sla_condition(chat)["status"], _sla_condition(chat)["reason"]) == ("True", "SlaMet")
