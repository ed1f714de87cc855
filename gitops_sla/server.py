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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gitops_sla.reconcile.engine import PassReport, Reconciler

log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


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
    except (ValueError, AttributeError):
        return WebhookVerdict(400, forge, "bad-request", "the push payload is neither JSON nor a form with a JSON "
                                                         "'payload' field; set the webhook's content type to JSON")
    if ref != f"refs/heads/{branch}":
        return WebhookVerdict(202, forge, "ignored", f"push to {ref} ignored; watching {branch}")
    return WebhookVerdict(202, forge, "triggered", "reconcile pass scheduled")


class WatchLoop:
    """Runs passes until `stop()`; `trigger()` (a webhook) starts the next one at once. With `leader` (leader
    election), passes run only while it says True; a standby waits and stays healthy."""

    def __init__(self, reconciler: Reconciler, interval_s: float, *, webhook_secret: str | None = None,
                 leader: Callable[[], bool] | None = None):
        self.reconciler = reconciler
        self.interval_s = interval_s
        self.webhook_secret = webhook_secret
        self.leader = leader
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.last_report: PassReport | None = None
        self.last_pass_at: float | None = None
        self._server: ThreadingHTTPServer | None = None

    def trigger(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def run(self, on_report=None) -> None:
        first = True
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
            first = first and report.error is not None
            self.last_report, self.last_pass_at = report, time.time()
            if on_report is not None:
                on_report(report)
            self._wake.wait(self.interval_s)

    def healthy(self) -> bool:
        """Alive when a pass ended within three intervals (stall detection)."""
        return self.last_pass_at is not None and time.time() - self.last_pass_at < 3 * self.interval_s + 60

    def listen(self, host: str, port: int) -> tuple[str, int]:
        """Serve `/healthz`, `/metrics` and webhooks in a background thread; returns the bound address."""
        loop = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: object) -> None:
                log.debug("http: " + fmt, *args)

            def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/healthz":
                    ok = loop.healthy()
                    report = loop.last_report
                    detail = {"ok": ok, "lastPassAt": loop.last_pass_at,
                              "lastError": report.error if report else None,
                              "head": report.head if report else None,
                              "leader": loop.leader() if loop.leader is not None else None}
                    self._send(200 if ok else 503, json.dumps(detail).encode(), "application/json")
                elif path == "/metrics":
                    self._send(200, generate_latest(loop.reconciler.metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n")

            def do_POST(self) -> None:
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0:  # a negative length would read until the client hangs up
                    self.close_connection = True
                    self._send(400, b"Content-Length must be a non-negative integer\n")
                    return
                if length > MAX_WEBHOOK_BYTES:
                    self._send(413, b"payload too large\n")
                    return
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                verdict = check_webhook(headers, body, loop.webhook_secret, loop.reconciler.branch)
                loop.reconciler.metrics.webhooks.labels(verdict.forge, verdict.outcome).inc()
                if verdict.outcome == "triggered":
                    loop.trigger()
                self._send(verdict.status, json.dumps({"result": verdict.outcome, "message": verdict.message})
                           .encode(), "application/json")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="http").start()
        return self._server.server_address[0], self._server.server_address[1]
