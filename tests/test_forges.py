"""Forge clients against their loopback fakes, below the reconciler: the kind the operator picks, each forge's
commit-status vocabulary, GitLab's project paths and status transitions, Gitea's paging, and tokens kept out
of every message."""

from __future__ import annotations

import pytest

from support.forges import KINDS, start_forge

from gitops_sla.forge import ForgeError, ForgeSettings, GiteaForge, GitHubForge, GitLabForge, open_forge
from gitops_sla.forge.base import repo_path_from_url

SHA = "0123456789abcdef0123456789abcdef01234567"
TIPS = {"gitops-sla/a/b": SHA, "gitops-sla/a/c": "f" * 40}


@pytest.mark.parametrize("env, kind, api_url", [
    ({}, "github", "https://api.github.com"),
    ({"GITOPS_SLA_FORGE_API_URL": "https://ghe.example/api/v3"}, "github", "https://ghe.example/api/v3"),
    ({"GITOPS_SLA_FORGE_API_URL": "https://gitlab.example/api/v4/"}, "gitlab", "https://gitlab.example/api/v4"),
    ({"GITOPS_SLA_FORGE_API_URL": "https://git.example/api/v1"}, "gitea", "https://git.example/api/v1"),
    ({"GITOPS_SLA_FORGE_API_URL": "https://git.example/api/v1", "GITOPS_SLA_FORGE_KIND": "github"}, "github",
     "https://git.example/api/v1"),
])
def test_the_kind_is_the_operators_or_unambiguous_from_the_api_url(env, kind, api_url):
    settings = ForgeSettings.resolve(token="t", repo="o/r", env=env)
    assert (settings.kind, settings.api_url) == (kind, api_url)
    assert type(open_forge(settings)) is {"github": GitHubForge, "gitlab": GitLabForge, "gitea": GiteaForge}[kind]


def test_bad_kind_or_missing_api_url_is_a_clear_error():
    with pytest.raises(ForgeError, match="unknown forge kind 'bitbucket'.*github, gitlab, gitea"):
        ForgeSettings.resolve(token="t", repo="o/r", env={"GITOPS_SLA_FORGE_KIND": "bitbucket"})
    with pytest.raises(ForgeError, match="a gitlab forge needs its API URL: pass --forge-api-url"):
        ForgeSettings.resolve(kind="gitlab", token="t", repo="o/r", env={})


def test_a_local_path_or_a_one_part_url_path_names_no_forge_repository():
    for url in ("/srv/git/gitops.git", "file:///srv/git/team/gitops.git", "http://127.0.0.1:8080/gitops.git"):
        assert repo_path_from_url(url) is None and repo_path_from_url(url, "gitlab") is None, url
    assert repo_path_from_url("https://bot:p@ss@github.com/org/gitops.git") == "org/gitops"


def test_gitlab_takes_the_full_project_path_of_the_remote():
    assert repo_path_from_url("https://gitlab.example/group/sub/name.git", "gitlab") == "group/sub/name"
    assert repo_path_from_url("git@gitlab.example:group/sub/name.git", "gitlab") == "group/sub/name"
    assert repo_path_from_url("ssh://git@gitlab.example:2222/group/name.git", "gitlab") == "group/name"
    assert repo_path_from_url("https://github.com/group/sub/name.git") == "sub/name"
    settings = ForgeSettings.resolve(kind="gitlab", api_url="https://gitlab.example/api/v4", token="t",
                                     remote_url="https://gitlab.example/group/sub/name.git", env={})
    assert settings.repo == "group/sub/name"


@pytest.mark.parametrize("kind", KINDS)
def test_pull_requests_and_statuses_round_trip(kind):
    fake, forge = start_forge(kind, TIPS.get)
    try:
        created = forge.create_pull("gitops-sla/a/b", "main", "title", "body")
        forge.create_pull("gitops-sla/a/c", "main", "other", "")
        assert (created.number, created.state, created.head_sha) == (1, "open", SHA)
        with pytest.raises(ForgeError, match=r": (409|422) "):  # one open pull request per branch
            forge.create_pull("gitops-sla/a/b", "main", "again", "")
        assert forge.update_pull(1, "new", "text").title == "new"
        fake.merge(1)
        [merged] = forge.pulls_for_branch("gitops-sla/a/b", "main")
        assert (merged.state, merged.body) == ("merged", "text")
        assert forge.close_pull(2).state == "closed"
        assert [p.state for p in forge.pulls_for_branch("gitops-sla/a/c", "main")] == ["closed"]
        for state in ("pending", "success", "pending", "failure", "error"):
            forge.set_commit_status(SHA, state, "gitops-sla/a/b", "x" * 200)
        assert [s["state"] for s in fake.statuses] == {
            "github": ["pending", "success", "pending", "failure", "error"],
            "gitlab": ["running", "success", "running", "failed", "canceled"],
            "gitea": ["pending", "success", "pending", "failure", "error"]}[kind]
        assert {s["context"] for s in fake.statuses} == {"gitops-sla/a/b"}
        assert max(len(s["description"]) for s in fake.statuses) == 140
    finally:
        forge.close()
        fake.stop()


def test_gitlab_running_twice_is_already_set_not_an_error():
    fake, forge = start_forge("gitlab", TIPS.get)
    try:
        forge.set_commit_status(SHA, "pending", "gitops-sla/a/b", "Deploying: created")
        forge.set_commit_status(SHA, "pending", "gitops-sla/a/b", "Deploying: pending")  # GitLab answers 400
        assert [s["state"] for s in fake.statuses] == ["running"]
        with pytest.raises(ForgeError, match="404"):  # other errors still fail
            forge.set_commit_status("not-a-sha", "pending", "gitops-sla/a/b", "")
    finally:
        forge.close()
        fake.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_token_is_named_never_shown(kind):
    fake, _ = start_forge(kind, TIPS.get, token="right-token")
    settings = ForgeSettings(fake.api_url.replace("http://", "http://user:hunter2@"), "org/gitops",
                             "wrong-secret-token", kind)
    forge = open_forge(settings)
    try:
        with pytest.raises(ForgeError) as caught:
            forge.pulls_for_branch("gitops-sla/a/b", "main")
    finally:
        forge.close()
        fake.stop()
    assert "401, the forge refused the token; check GITOPS_SLA_FORGE_TOKEN" in str(caught.value)
    for text in (str(caught.value), repr(settings), repr(forge)):
        assert "wrong-secret-token" not in text and "hunter2" not in text and "***@127.0.0.1" in text
