"""The watch loop's HTTP side: push webhooks (GitHub HMAC, GitLab token, Gitea HMAC), /healthz, /metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
import urllib.parse

import httpx

from reconcile_support import cached_reconciler, request_yaml
from gitops_sla.server import WatchLoop, check_webhook

SECRET = "hook-secret"


def _github(body: bytes, secret: str = SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature-256": signature, "Content-Type": "application/json"}


def test_webhook_triggers_a_pass_and_metrics_show_it(remote, tmp_path, profile_cache):
    reconciler = cached_reconciler(remote, tmp_path / "cache", profile_cache)
    loop = WatchLoop(reconciler, interval_s=3600, webhook_secret=SECRET)  # only webhooks wake it
    host, port = loop.listen("127.0.0.1", 0)
    reports = []
    worker = threading.Thread(target=loop.run, kwargs={"on_report": reports.append}, daemon=True)
    worker.start()
    base = f"http://{host}:{port}"
    deadline = time.time() + 30
    while not reports and time.time() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{base}/healthz").status_code == 200

    person = remote.person(tmp_path / "person")
    person.write("requests/team-a/chat.yaml", request_yaml("chat"))
    person.commit_and_push("add chat")
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    assert httpx.post(f"{base}/webhook", content=body, headers=_github(body, "wrong")).status_code == 401
    assert httpx.post(f"{base}/webhook", content=body, headers=_github(body)).status_code == 202
    deadline = time.time() + 120
    while len(reports) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert [o.action for o in reports[1].worked] == ["generated"]

    metrics = httpx.get(f"{base}/metrics").text
    assert 'gitops_sla_reconcile_passes_total{result="work"}' in metrics
    assert 'gitops_sla_webhooks_total{forge="github",outcome="refused"} 1.0' in metrics
    assert 'gitops_sla_webhooks_total{forge="github",outcome="triggered"} 1.0' in metrics
    assert 'gitops_sla_commits_total{kind="direct"} 1.0' in metrics
    assert "gitops_sla_reconcile_pass_duration_seconds_bucket" in metrics
    assert "gitops_sla_push_retries_total" in metrics and 'gitops_sla_requests{state="Pending"}' in metrics
    loop.stop()
    worker.join(timeout=10)


def test_webhook_rules_per_forge():
    push = json.dumps({"ref": "refs/heads/main"}).encode()
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    gitea_sig = hmac.new(SECRET.encode(), push, hashlib.sha256).hexdigest()
    assert check_webhook({"x-gitea-event": "push", "x-gitea-signature": gitea_sig}, push, SECRET, "main").outcome \
        == "triggered"
    assert check_webhook({"x-gitea-event": "push", "x-gitea-signature": "0" * 64}, push, SECRET, "main").status == 401
    assert check_webhook({"x-gitlab-event": "Push Hook", "x-gitlab-token": SECRET}, push, SECRET, "main").outcome \
        == "triggered"
    assert check_webhook({"x-gitlab-event": "Push Hook", "x-gitlab-token": "nope"}, push, SECRET, "main").status == 401
    assert check_webhook({"x-github-event": "push"}, other, None, "main").outcome == "ignored"
    assert check_webhook({"x-github-event": "ping"}, b"{}", None, "main").outcome == "ignored"
    assert check_webhook({}, push, None, "main").status == 400
    # a header value outside ASCII is a wrong signature, not a crash of the handler
    assert check_webhook({"x-github-event": "push", "x-hub-signature-256": "sha256=\xe9"}, push, SECRET, "main"
                         ).status == 401


def test_form_encoded_push_is_read_as_github_sends_it_by_default():
    """GitHub's default webhook content type is a form whose `payload` field holds the JSON; the HMAC covers the
    raw body."""
    def form_headers(body: bytes) -> dict[str, str]:
        headers = {k.lower(): v for k, v in _github(body).items()}
        return dict(headers, **{"content-type": "application/x-www-form-urlencoded"})

    form = urllib.parse.urlencode({"payload": json.dumps({"ref": "refs/heads/main"})}).encode()
    assert check_webhook(form_headers(form), form, SECRET, "main").outcome == "triggered"
    other = urllib.parse.urlencode({"payload": json.dumps({"ref": "refs/heads/dev"})}).encode()
    assert check_webhook(form_headers(other), other, SECRET, "main").outcome == "ignored"
    verdict = check_webhook(form_headers(b"x=1"), b"x=1", SECRET, "main")
    assert verdict.status == 400 and "content type to JSON" in verdict.message


def test_a_real_gitea_delivery_is_recognised_as_gitea():
    """Gitea sends its own headers and GitHub's (services/webhook/deliver.go): it must count as Gitea."""
    push = json.dumps({"ref": "refs/heads/main"}).encode()
    sha256 = hmac.new(SECRET.encode(), push, hashlib.sha256).hexdigest()
    headers = {"x-gitea-delivery": "u", "x-gitea-event": "push", "x-gitea-event-type": "push",
               "x-gitea-signature": sha256, "x-gogs-event": "push", "x-gogs-signature": sha256,
               "x-hub-signature": "sha1=" + hmac.new(SECRET.encode(), push, hashlib.sha1).hexdigest(),
               "x-hub-signature-256": "sha256=" + sha256, "x-github-delivery": "u", "x-github-event": "push",
               "x-github-event-type": "push"}
    verdict = check_webhook(headers, push, SECRET, "main")
    assert (verdict.forge, verdict.outcome) == ("gitea", "triggered")
    forged = dict(headers, **{"x-gitea-signature": "0" * 64})
    assert (check_webhook(forged, push, SECRET, "main").forge, check_webhook(forged, push, SECRET, "main").status) \
        == ("gitea", 401)


def _raw_post(host: str, port: int, content_length: str) -> bytes:
    """A POST whose Content-Length header is whatever the sender wrote (httpx would not send a bad one)."""
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(f"POST /webhook HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
                     f"Content-Length: {content_length}\r\n\r\n".encode())
        answer = b""
        while chunk := conn.recv(4096):  # the listener closes the connection after refusing
            answer += chunk
        return answer


def test_a_bad_content_length_is_refused_and_the_listener_keeps_serving(remote, tmp_path, profile_cache):
    loop = WatchLoop(cached_reconciler(remote, tmp_path / "cache", profile_cache), interval_s=3600)
    host, port = loop.listen("127.0.0.1", 0)
    try:
        for value in ("-5", "lots"):  # -5 used to read until the client hung up; "lots" raised in the handler
            answer = _raw_post(host, port, value)
            assert answer.startswith(b"HTTP/1.1 400") and b"non-negative integer" in answer
        assert httpx.get(f"http://{host}:{port}/metrics").status_code == 200
    finally:
        loop.stop()


def test_watch_with_an_unreadable_webhook_secret_file_says_which_file(remote, tmp_path, capsys, monkeypatch):
    from gitops_sla.cli import main

    monkeypatch.setenv("GITOPS_SLA_GIT_USERNAME", "bot")
    monkeypatch.setenv("GITOPS_SLA_GIT_TOKEN", "s3cret")
    args = ["reconcile", "--repo", remote.url, "--watch", "--cache-dir", str(tmp_path / "c"), "--listen", ""]
    missing = tmp_path / "no-such-secret"
    assert main([*args, "--webhook-secret-file", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"cannot read the webhook secret file {missing}" in err and "check the path" in err
    empty = tmp_path / "empty-secret"
    empty.write_text("\n")
    assert main([*args, "--webhook-secret-file", str(empty)]) == 1
    assert "is empty" in capsys.readouterr().err
