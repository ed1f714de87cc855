"""The watch loop's HTTP side: push webhooks (GitHub HMAC, GitLab token, Gitea HMAC), /healthz, /metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

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
    assert "gitops_sla_push_retries_total" in metrics and 'gitops_sla_requests{state="Ready"}' in metrics
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
