"""Credentials in URLs never reach logs, errors or generated files: `user:password@` anywhere in a URL,
including a password with a raw `@`, and URLs inside longer messages."""

from __future__ import annotations

import base64
import logging
import socket
from http.server import BaseHTTPRequestHandler

import pytest
from support.loopback import serve, shut_down

from gitops_sla.forge import ForgeError, ForgeSettings, GitHubForge
from gitops_sla.git import GitSyncError, Mirror
from gitops_sla.models import RepoConfig
from gitops_sla.reconcile.planner_settings import planner_repo_url
from gitops_sla.secrets import redact_url
from planner.prometheus import PrometheusClient


@pytest.mark.parametrize("url, shown", [
    ("https://bot:s3cret@git.example.com/o/r.git", "https://***@git.example.com/o/r.git"),
    ("https://bot:p@ss@w0rd@git.example.com/o/r.git", "https://***@git.example.com/o/r.git"),
    ("https://tok@en@git.example.com", "https://***@git.example.com"),
    ("http://u:p@127.0.0.1:9/api?x=1", "http://***@127.0.0.1:9/api?x=1"),
    ("https://git.example.com/o/r.git", "https://git.example.com/o/r.git"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ("fetch https://a:b@c@h/x failed: 401 at https://h/y", "fetch https://***@h/x failed: 401 at https://h/y"),
])
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_password_with_a_raw_at_never_reaches_a_dgd() -> None:
    config = RepoConfig.model_validate({"planner": {"mode": "git"}})
    assert planner_repo_url(config, "https://bot:p@ss@git.example.com/o/r.git") == "https://git.example.com/o/r.git"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_forge_errors_and_repr_never_show_url_credentials() -> None:
    settings = ForgeSettings(f"http://user:hunter2@x@127.0.0.1:{_closed_port()}", "o/r", "forge-token")
    forge = GitHubForge(settings, timeout_s=5)
    try:
        with pytest.raises(ForgeError) as caught:
            forge.pulls_for_branch("gitops-sla/a/b", "main")
    finally:
        forge.close()
    for text in (str(caught.value), repr(settings), repr(forge)):
        assert "hunter2" not in text and "user" not in text and "forge-token" not in text
        assert "***@127.0.0.1" in text


class _Api(BaseHTTPRequestHandler):
    """Answers every GET with an empty result (a forge's list, Prometheus's query answer) and records the
    Authorization header it got."""

    seen: list[str] = []

    def do_GET(self) -> None:
        _Api.seen.append(self.headers.get("Authorization", ""))
        body = b'{"status": "success", "data": {"result": []}}' if self.path.startswith("/api/v1/query") else b"[]"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def api():
    _Api.seen = []
    server = serve(_Api)
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        shut_down(server)


def _logged_without_credentials(caplog, address: str) -> None:
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"HTTP Request: GET http://{address}/" in logged
    assert "p@ss" not in logged and "bot:" not in logged
    assert _Api.seen and set(_Api.seen) == {"Basic " + base64.b64encode(b"bot:p@ss").decode()}


def test_forge_requests_are_logged_without_url_credentials_which_are_still_sent(api, caplog) -> None:
    """httpx logs each request's URL at INFO (`reconcile -v`); the forge API URL's `user:password@` must not be
    in it. The credentials still reach the forge, as HTTP basic auth, as before."""
    forge = GitHubForge(ForgeSettings(f"http://bot:p@ss@{api}", "o/r", "forge-token"))
    caplog.set_level(logging.DEBUG)
    try:
        assert forge.pulls_for_branch("gitops-sla/a/b", "main") == []
    finally:
        forge.close()
    _logged_without_credentials(caplog, api)


def test_the_planners_prometheus_queries_are_logged_without_url_credentials(api, caplog) -> None:
    """The planner logs at INFO by default, so httpx's line per query reached its log with the password."""
    prometheus = PrometheusClient(f"http://bot:p@ss@{api}", "dynamo", "model")
    caplog.set_level(logging.DEBUG)
    try:
        prometheus.observe(60)
    finally:
        prometheus.close()
    _logged_without_credentials(caplog, api)


def test_git_errors_never_show_url_credentials(tmp_path) -> None:
    mirror = Mirror(f"http://bot:p@ss@127.0.0.1:{_closed_port()}/r.git", tmp_path / "cache")
    with pytest.raises(GitSyncError) as caught:
        mirror.fetch()
    assert "p@ss" not in str(caught.value) and "ss@" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)
    assert "p@ss" not in repr(mirror)


def test_a_missing_repository_path_is_named(tmp_path) -> None:
    with pytest.raises(GitSyncError, match=f"repository {tmp_path}/nope does not exist; pass a Git URL"):
        Mirror(str(tmp_path / "nope"), tmp_path / "cache")
