"""A small GitHub-style REST v3 fake for pull requests, on 127.0.0.1 (no real forge can run here).

It implements the calls the reconciler makes (list pulls of a head branch, create, update, get) with
GitHub's rules that matter for idempotency: a second open pull request for the same head and base is
refused with 422, an open pull request's `head.sha` follows its branch, a merged or closed one keeps the
sha it had. Branch tips come from the real bare repository through `branch_sha`. Tests merge or close
pull requests with `merge()`/`close()`, as a person would on the web page. Commit statuses
(`POST /repos/{owner}/{repo}/statuses/{sha}`, GitHub's four states, 422 otherwise) are kept in `statuses`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlparse

from tests.support.loopback import serve, shut_down


@dataclass
class FakeGitHub:
    owner: str
    repo: str
    token: str
    branch_sha: Callable[[str], str | None]
    pulls: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)  # commit statuses in the order they were set
    calls: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def api_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _refresh(self, pull: dict) -> dict:
        if pull["state"] == "open":
            pull["head"]["sha"] = self.branch_sha(pull["head"]["ref"]) or pull["head"]["sha"]
        return pull

    def merge(self, number: int) -> None:
        with self._lock:
            pull = self._refresh(self.pulls[number - 1])
            pull.update(state="closed", merged_at="2026-01-01T00:00:00Z", merged=True)

    def close(self, number: int) -> None:
        with self._lock:
            pull = self._refresh(self.pulls[number - 1])
            pull.update(state="closed")

    def open_pulls(self) -> list[dict]:
        return [p for p in self.pulls if p["state"] == "open"]

    def start(self) -> "FakeGitHub":
        fake = self
        prefix = f"/repos/{self.owner}/{self.repo}/pulls"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else {}
                url = urlparse(self.path)
                fake.calls.append((self.command, url.path))
                if self.headers.get("Authorization") not in (f"Bearer {fake.token}", f"token {fake.token}"):
                    return self._reply(401, {"message": "Bad credentials"})
                status_prefix = f"/repos/{fake.owner}/{fake.repo}/statuses/"
                if self.command == "POST" and url.path.startswith(status_prefix):
                    return self._status(url.path[len(status_prefix):], payload)
                if not url.path.startswith(prefix):
                    return self._reply(404, {"message": "Not Found"})
                rest = url.path[len(prefix):].strip("/")
                with fake._lock:
                    if self.command == "GET" and not rest:
                        return self._reply(200, self._list(parse_qs(url.query)))
                    if self.command == "POST" and not rest:
                        return self._create(payload)
                    if rest.isdigit() and 0 < int(rest) <= len(fake.pulls):
                        pull = fake._refresh(fake.pulls[int(rest) - 1])
                        if self.command == "GET":
                            return self._reply(200, pull)
                        if self.command == "PATCH":
                            for key in ("title", "body", "state"):
                                if key in payload:
                                    pull[key] = payload[key]
                            return self._reply(200, pull)
                return self._reply(404, {"message": "Not Found"})

            def _list(self, query: dict[str, list[str]]) -> list[dict]:
                head = query.get("head", [""])[0].split(":")[-1]
                base = query.get("base", [""])[0]
                state = query.get("state", ["open"])[0]
                found = [fake._refresh(p) for p in fake.pulls
                         if (not head or p["head"]["ref"] == head) and (not base or p["base"]["ref"] == base)
                         and (state == "all" or p["state"] == state)]
                return sorted(found, key=lambda p: -p["number"])

            def _status(self, sha: str, payload: dict) -> None:
                """GitHub's rules: a known state, a 40-hex sha; `context` defaults to `default`."""
                if payload.get("state") not in ("error", "failure", "pending", "success"):
                    return self._reply(422, {"message": "Validation Failed", "errors": [{"field": "state"}]})
                if len(sha) != 40 or any(c not in "0123456789abcdef" for c in sha):
                    return self._reply(422, {"message": "No commit found for SHA: " + sha})
                status = {"id": len(fake.statuses) + 1, "sha": sha, "state": payload["state"],
                          "context": payload.get("context") or "default",
                          "description": payload.get("description"), "target_url": payload.get("target_url")}
                with fake._lock:
                    fake.statuses.append(status)
                return self._reply(201, status)

            def _create(self, payload: dict) -> None:
                head, base = payload.get("head"), payload.get("base")
                sha = fake.branch_sha(head or "")
                if not head or not base or not payload.get("title") or sha is None:
                    return self._reply(422, {"message": "Validation Failed", "errors": [{"field": "head"}]})
                if any(p["head"]["ref"] == head and p["base"]["ref"] == base and p["state"] == "open"
                       for p in fake.pulls):
                    return self._reply(422, {"message": "Validation Failed",
                                             "errors": [{"message": f"A pull request already exists for {head}."}]})
                number = len(fake.pulls) + 1
                pull = {"number": number, "state": "open", "title": payload["title"], "body": payload.get("body", ""),
                        "html_url": f"https://github.example/{fake.owner}/{fake.repo}/pull/{number}",
                        "head": {"ref": head, "sha": sha}, "base": {"ref": base}, "merged_at": None}
                fake.pulls.append(pull)
                return self._reply(201, pull)

            do_GET = do_POST = do_PATCH = _handle

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None
