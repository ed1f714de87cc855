"""`reconcile --watch`: a pass every poll interval, at once on a push webhook; `/healthz` and `/metrics`.

Webhooks from GitHub (`X-GitHub-Event`, HMAC `X-Hub-Signature-256`), Gitea/Forgejo (`X-Gitea-Event`, HMAC
`X-Gitea-Signature`) and GitLab (`X-Gitlab-Event`, shared `X-Gitlab-Token`) are accepted on any POST path.
When a secret is set, a delivery without a valid signature/token is refused with 401. A push to the
watched branch wakes the loop; other events are acknowledged and ignored. The webhook only says "look
now": the pass reads Git, never the payload, so a forged or replayed delivery can cost a pass, nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitops_sla.listener import Listener, ListenerLimits, Request, Response
from gitops_sla.reconcile.engine import PassReport, Reconciler

log = logging.getLogger(__name__)
UNHEALTHY_AFTER_FAILED_PASSES = 3


@dataclass(frozen=True)
class WebhookVerdict:
    status: int
    forge: str
    outcome: str  # triggered, ignored, refused, bad-request
    message: str


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also takes non-ASCII header values (compare_digest refuses such str)."""
    return hmac.compare_digest(expected.encode(), given.encode())


def _push_payload(headers: dict[str, str], body: bytes) -> dict:
    """The delivery's JSON: the body, or its `payload` field when sent as a form (GitHub's default content type,
    also offered by Gitea)."""
    if headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        fields = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
        if "payload" not in fields:
            raise ValueError("form without a 'payload' field")
        return json.loads(fields["payload"][0])
    return json.loads(body or b"{}")


def check_webhook(headers: dict[str, str], body: bytes, secret: str | None, branch: str) -> WebhookVerdict:
    """Decide what a webhook delivery means (pure: headers are lower-cased names)."""
    if "x-gitea-event" in headers or "x-forgejo-event" in headers:  # first: Gitea also sends X-GitHub-Event
        forge = "gitea"
        event = headers.get("x-gitea-event") or headers.get("x-forgejo-event", "")
        if secret is not None:
            expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            given = headers.get("x-gitea-signature") or headers.get("x-forgejo-signature", "")
            if not _same(expected, given):
                return WebhookVerdict(401, forge, "refused", "signature does not match the webhook secret")
        is_push = event == "push"
    elif "x-github-event" in headers:
        forge, event = "github", headers["x-github-event"]
        if secret is not None:
            expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            if not _same(expected, headers.get("x-hub-signature-256", "")):
                return WebhookVerdict(401, forge, "refused", "signature does not match the webhook secret")
        is_push = event == "push"
    elif "x-gitlab-event" in headers:
        forge, event = "gitlab", headers["x-gitlab-event"]
        if secret is not None and not _same(secret, headers.get("x-gitlab-token", "")):
            return WebhookVerdict(401, forge, "refused", "X-Gitlab-Token does not match the webhook secret")
        is_push = event == "Push Hook"
    else:
        return WebhookVerdict(400, "unknown", "bad-request", "not a GitHub, Gitea or GitLab webhook")
    if not is_push:
        return WebhookVerdict(200, forge, "ignored", f"event '{event}' ignored")
    try:
        ref = _push_payload(headers, body).get("ref", "")
    except (ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested thousands of levels deep
        return WebhookVerdict(400, forge, "bad-request", "the push payload is neither JSON nor a form with a JSON "
                                                         "'payload' field; set the webhook's content type to JSON")
    if ref != f"refs/heads/{branch}":
        return WebhookVerdict(202, forge, "ignored", f"push to {ref} ignored; watching {branch}")
    return WebhookVerdict(202, forge, "triggered", "reconcile pass scheduled")


class WatchLoop:
    """Runs passes until `stop()`; `trigger()` (a webhook) starts the next one at once. With `leader` (leader
    election), passes run only while it says True; a standby waits and stays healthy."""

    def __init__(self, reconciler: Reconciler, interval_s: float, *, webhook_secret: str | None = None,
                 leader: Callable[[], bool] | None = None, limits: ListenerLimits = ListenerLimits()):
        self.reconciler = reconciler
        self.interval_s = interval_s
        self.webhook_secret = webhook_secret
        self.leader = leader
        self.limits = limits
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.last_report: PassReport | None = None
        self.last_pass_at: float | None = None
        self.failed_in_a_row = 0
        self._listener: Listener | None = None

    def trigger(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.stop()

    def run(self, on_report=None) -> None:
        first = True
        metrics = self.reconciler.metrics
        while not self._stop.is_set():
            self._wake.clear()
            if self.leader is not None and not self.leader():
                first = True  # the first pass after taking over re-checks every request
                self.last_pass_at = time.time()
                self._wake.wait(self.interval_s)
                continue
            try:
                report = self.reconciler.run_pass(full=first)
            except Exception:  # a bug must not end the service; the next pass tries again
                log.exception("reconcile pass crashed")
                report = PassReport(None, False, error="internal error, see the log")
                metrics.passes.labels("crashed").inc()
            first = first and report.error is not None
            self.failed_in_a_row = self.failed_in_a_row + 1 if report.error else 0
            metrics.failed_passes_in_a_row.set(self.failed_in_a_row)
            self.last_report, self.last_pass_at = report, time.time()
            if on_report is not None:
                on_report(report)
            self._wake.wait(self.interval_s)

    def healthy(self) -> bool:
        """Alive when a pass ended within three intervals (stall detection) and the last
        `UNHEALTHY_AFTER_FAILED_PASSES` passes did not all fail (a crash loop, an unreachable remote)."""
        return (self.last_pass_at is not None and time.time() - self.last_pass_at < 3 * self.interval_s + 60
                and self.failed_in_a_row < UNHEALTHY_AFTER_FAILED_PASSES)

    def handle(self, request: Request) -> Response:
        """`GET /healthz`, `GET /metrics`, and webhooks on `POST` to any path."""
        path = request.path.split("?")[0]
        if request.method == "POST":
            verdict = check_webhook(request.headers, request.body, self.webhook_secret, self.reconciler.branch)
            self.reconciler.metrics.webhooks.labels(verdict.forge, verdict.outcome).inc()
            if verdict.outcome == "triggered":
                self.trigger()
            body = json.dumps({"result": verdict.outcome, "message": verdict.message}).encode()
            return Response(verdict.status, body, "application/json")
        if request.method != "GET":
            return Response(405, b"method not allowed\n")
        if path == "/healthz":
            ok = self.healthy()
            report = self.last_report
            detail = {"ok": ok, "lastPassAt": self.last_pass_at, "failedPassesInARow": self.failed_in_a_row,
                      "lastError": report.error if report else None, "head": report.head if report else None,
                      "leader": self.leader() if self.leader is not None else None}
            return Response(200 if ok else 503, json.dumps(detail).encode(), "application/json")
        if path == "/metrics":
            return Response(200, generate_latest(self.reconciler.metrics.registry), CONTENT_TYPE_LATEST)
        return Response(404, b"not found\n")

    def listen(self, host: str, port: int) -> tuple[str, int]:
        """Serve `/healthz`, `/metrics` and webhooks in a background thread; returns the bound address.
        Raises `OSError` when the address cannot be bound (e.g. the port is in use)."""
        self._listener = Listener(self.handle, self.limits)
        return self._listener.start(host, port)
