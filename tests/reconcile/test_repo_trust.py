"""What the reconciler trusts from the repository and what only from its operator: a commit to gitops-sla.yaml
must not decide where credentials go (`forge.apiUrl`) or which variables and files hold them (`tokenEnv`,
`tokenFile`). A catcher on 127.0.0.1 stands in for the attacker's host."""

from __future__ import annotations

import argparse
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from reconcile_support import cached_reconciler, request_yaml, seed_remote
from support.fake_github import FakeGitHub
from support.loopback import serve, shut_down

from gitops_sla.commands.reconcile import resolve_forge
from gitops_sla.forge.base import DEFAULT_API_URL


class Catcher:
    """Records every request that reaches it (method, path, headers, body)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, bytes]] = []
        lock = threading.Lock()
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    catcher.seen.append((self.command, self.path, str(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"[]")

            do_GET = do_POST = do_PATCH = _record

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def catcher():
    caught = Catcher()
    try:
        yield caught
    finally:
        shut_down(caught.server)


def _hostile_config(catcher_url: str, host_file: str) -> str:
    return ("targetBranch: main\ndefaultMode: pull-request\n"
            f"forge:\n  apiUrl: {catcher_url}\n  owner: org\n  repository: gitops\n"
            f"  tokenEnv: GITOPS_SLA_GIT_TOKEN\n  tokenFile: {host_file}\n")


def _args(forge: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(branch="main", forge=forge, forge_api_url=None, forge_repo=None, forge_token_file=None)


def test_the_repository_cannot_send_credentials_to_its_own_host(git_server, tmp_path, profile_cache, catcher,
                                                                 monkeypatch):
    host_file = tmp_path / "host-secret"
    host_file.write_text("host-file-canary\n")
    remote = seed_remote(git_server, tmp_path, config=_hostile_config(catcher.url, str(host_file)))
    fake = FakeGitHub("org", "gitops", "forge-canary", remote.branch_sha).start()
    try:
        for name in ("GITOPS_SLA_FORGE_REPO", "GITOPS_SLA_FORGE_TOKEN_FILE", "GITOPS_SLA_GIT_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("GITOPS_SLA_FORGE_TOKEN", "forge-canary")
        monkeypatch.setenv("GITOPS_SLA_GIT_TOKEN", "git-canary")
        monkeypatch.setenv("GITOPS_SLA_FORGE_API_URL", fake.api_url)  # the operator's choice wins
        mirror = remote.mirror(tmp_path / "cache")
        mirror.fetch()

        forge = resolve_forge(_args(), mirror)
        assert forge is not None
        assert (forge.settings.api_url, forge.settings.repo, forge.settings.token) == \
            (fake.api_url, "org/gitops", "forge-canary")

        person = remote.person(tmp_path / "person")
        person.write("requests/team-a/chat.yaml", request_yaml("chat", auto_apply=False))
        person.commit_and_push("add chat for review")
        report = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge).run_pass(full=True)
        assert [(o.action, o.state) for o in report.worked] == [("pull-request", "Pending")]
        assert len(fake.pulls) == 1
        assert catcher.seen == []

        # Without the operator's URL the default API is used, never the repository's; without the operator's
        # token there is no forge at all (the repository's tokenEnv/tokenFile are not read).
        # The kind is the operator's too (--forge, GITOPS_SLA_FORGE_KIND), never gitops-sla.yaml's `type`.
        assert type(resolve_forge(_args("gitlab"), mirror)).__name__ == "GitLabForge"
        monkeypatch.setenv("GITOPS_SLA_FORGE_KIND", "gitea")
        assert type(resolve_forge(_args(), mirror)).__name__ == "GiteaForge"
        monkeypatch.delenv("GITOPS_SLA_FORGE_KIND")
        monkeypatch.delenv("GITOPS_SLA_FORGE_API_URL")
        assert resolve_forge(_args(), mirror).settings.api_url == DEFAULT_API_URL
        monkeypatch.delenv("GITOPS_SLA_FORGE_TOKEN")
        assert resolve_forge(_args(), mirror) is None
        assert catcher.seen == []
    finally:
        fake.stop()


def test_the_repository_cannot_point_pull_requests_at_another_repository(git_server, tmp_path, profile_cache,
                                                                          monkeypatch, caplog):
    """gitops-sla.yaml's forge.owner/repository names another repository the token may reach: ignored with a
    warning; the pull request goes to the Git remote's own repository (org/gitops), and no call names the other."""
    config = "targetBranch: main\ndefaultMode: pull-request\nforge:\n  owner: other\n  repository: victim\n"
    remote = seed_remote(git_server, tmp_path, "org/gitops", config=config)
    fake = FakeGitHub("org", "gitops", "forge-canary", remote.branch_sha).start()
    try:
        monkeypatch.delenv("GITOPS_SLA_FORGE_REPO", raising=False)
        monkeypatch.delenv("GITOPS_SLA_FORGE_TOKEN_FILE", raising=False)
        monkeypatch.setenv("GITOPS_SLA_FORGE_TOKEN", "forge-canary")
        monkeypatch.setenv("GITOPS_SLA_FORGE_API_URL", fake.api_url)
        mirror = remote.mirror(tmp_path / "cache")
        mirror.fetch()

        forge = resolve_forge(_args(), mirror)

        assert forge is not None and forge.settings.repo == "org/gitops"
        assert any("other/victim" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)
        person = remote.person(tmp_path / "person")
        person.write("requests/team-a/chat.yaml", request_yaml("chat", auto_apply=False))
        person.commit_and_push("add chat for review")
        report = cached_reconciler(remote, tmp_path / "cache", profile_cache, forge=forge).run_pass(full=True)
        assert [(o.action, o.state) for o in report.worked] == [("pull-request", "Pending")]
        assert len(fake.pulls) == 1 and not any("/other/" in path for _, path in fake.calls)
        assert resolve_forge(argparse.Namespace(**{**vars(_args()), "forge_repo": "other/victim"}),
                             mirror).settings.repo == "other/victim"  # the operator may choose it
    finally:
        fake.stop()
