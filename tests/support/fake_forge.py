"""What the loopback forge fakes share: pull requests kept forge-neutrally, a JSON handler, start/stop.

A pull request is `{number, state: open|closed|merged, head, base, sha, title, body}`; each fake renders it in its
forge's JSON and routes its forge's calls (`route`). An open pull request's `sha` follows its branch (read from
the real bare repository through `branch_sha`), a merged or closed one keeps the sha it had. Tests merge or
close pull requests with `merge()`/`close()`, as a person would on the web page. Commit statuses are kept in
`statuses` as `{sha, state, context, description}` with the forge's own state names. `RepoPullsFake` routes
the calls GitHub and Gitea share; their fakes add only what differs (listing, refusals, states, links).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Mapping
from urllib.parse import parse_qs, urlparse

from tests.support.loopback import serve, shut_down

Reply = tuple  # (status, body) or (status, body, headers)
NOT_FOUND: Reply = (404, {"message": "Not Found"})


@dataclass
class FakeForge:
    owner: str
    repo: str
    token: str
    branch_sha: Callable[[str], str | None]
    pulls: list[dict] = field(default_factory=list)
    statuses: list[dict] = field(default_factory=list)  # commit statuses in the order they were set
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, raw path)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    api_path = ""  # the API's root below the server, e.g. `/api/v4`
    kind = ""

    @property
    def api_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.api_path}"

    def refresh(self, pull: dict) -> dict:
        if pull["state"] == "open":
            pull["sha"] = self.branch_sha(pull["head"]) or pull["sha"]
        return pull

    def merge(self, number: int) -> None:
        with self._lock:
            self.refresh(self.pulls[number - 1])["state"] = "merged"

    def close(self, number: int) -> None:
        with self._lock:
            self.refresh(self.pulls[number - 1])["state"] = "closed"

    def open_pulls(self) -> list[dict]:
        return [p for p in self.pulls if p["state"] == "open"]

    def add_pull(self, head: str, base: str, title: str, body: str) -> dict | None:
        """A new open pull request, or None when one is already open for `head` into `base`."""
        if any(p["head"] == head and p["base"] == base and p["state"] == "open" for p in self.pulls):
            return None
        pull = {"number": len(self.pulls) + 1, "state": "open", "head": head, "base": base,
                "sha": self.branch_sha(head), "title": title, "body": body}
        self.pulls.append(pull)
        return pull

    def find_pulls(self, head: str | None, base: str | None, states: tuple[str, ...]) -> list[dict]:
        """Matching pull requests, newest first."""
        return sorted((self.refresh(p) for p in self.pulls if (not head or p["head"] == head)
                       and (not base or p["base"] == base) and p["state"] in states), key=lambda p: -p["number"])

    def add_status(self, sha: str, state: str, context: str, description: str | None) -> dict:
        status = {"id": len(self.statuses) + 1, "sha": sha, "state": state, "context": context,
                  "description": description}
        self.statuses.append(status)
        return status

    # What each fake defines.
    def authorized(self, headers: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        return 401, {"message": "Bad credentials"}

    def route(self, method: str, path: str, query: dict[str, list[str]], payload: dict) -> Reply:
        raise NotImplementedError

    def start(self) -> "FakeForge":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length)) if length else {}
                url = urlparse(self.path)
                fake.calls.append((self.command, url.path))
                if not fake.authorized(self.headers):
                    reply = fake.unauthorized()
                elif not url.path.startswith(fake.api_path + "/"):
                    reply = NOT_FOUND
                else:
                    with fake._lock:
                        reply = fake.route(self.command, url.path[len(fake.api_path):], parse_qs(url.query), payload)
                status, body, headers = (*reply, {})[:3]
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = _handle

        self._server = serve(Handler)
        return self

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None


def is_sha(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)


# `state` of a list call -> the pull requests' states it lists (a merged one is also closed)
STATE_FILTERS = {"all": ("open", "closed", "merged"), "closed": ("closed", "merged")}


class RepoPullsFake(FakeForge):
    """The calls GitHub and Gitea share, in GitHub's shape: `/repos/{owner}/{repo}/pulls` (list, create),
    `/pulls/{number}` (get, PATCH title/body/state; a merged one stays merged), `/statuses/{sha}`. A subclass
    says how pull requests are listed (`list_pulls`), what creating one needs and how the forge refuses it,
    which commit states it takes, and its web links."""

    pull_web_path = "pull"  # `https://<forge>/{owner}/{repo}/<pull_web_path>/{number}`
    web_host = ""
    status_states: tuple[str, ...] = ()
    create_needs: tuple[str, ...] = ("head", "base")  # payload fields a new pull request must have

    def render(self, pull: dict) -> dict:
        merged = pull["state"] == "merged"
        return {"number": pull["number"], "state": "closed" if merged else pull["state"], "title": pull["title"],
                "body": pull["body"], "merged": merged, "merged_at": "2026-01-01T00:00:00Z" if merged else None,
                "html_url": f"https://{self.web_host}/{self.owner}/{self.repo}/{self.pull_web_path}/{pull['number']}",
                "head": {"ref": pull["head"], "sha": pull["sha"]}, "base": {"ref": pull["base"]}}

    def list_pulls(self, query: dict[str, list[str]], states: tuple[str, ...]) -> Reply:
        raise NotImplementedError

    def refuse_status(self, sha: str, payload: dict) -> Reply | None:
        """The forge's answer to a status it refuses (unknown state, not a commit id); None to accept it."""
        raise NotImplementedError

    def refuse_invalid_pull(self) -> Reply:
        """The answer when a field in `create_needs` is missing or the head branch does not exist."""
        raise NotImplementedError

    def refuse_second_pull(self, head: str, base: str) -> Reply:
        """The answer when a pull request for `head` into `base` is already open."""
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, list[str]], payload: dict) -> Reply:
        prefix = f"/repos/{self.owner}/{self.repo}"
        if method == "POST" and path.startswith(f"{prefix}/statuses/"):
            sha = path.rsplit("/", 1)[1]
            refused = self.refuse_status(sha, payload)
            if refused is not None:
                return refused
            return 201, self.add_status(sha, payload["state"], payload.get("context") or "default",
                                        payload.get("description"))
        rest = path[len(f"{prefix}/pulls"):].strip("/") if path.startswith(f"{prefix}/pulls") else None
        if rest == "" and method == "GET":
            state = query.get("state", ["open"])[0]
            return self.list_pulls(query, STATE_FILTERS.get(state, (state,)))
        if rest == "" and method == "POST":
            head, base = payload.get("head") or "", payload.get("base") or ""
            if not all(payload.get(name) for name in self.create_needs) or self.branch_sha(head) is None:
                return self.refuse_invalid_pull()
            pull = self.add_pull(head, base, payload.get("title") or "", payload.get("body") or "")
            return self.refuse_second_pull(head, base) if pull is None else (201, self.render(pull))
        if rest and rest.isdigit() and 0 < int(rest) <= len(self.pulls):
            pull = self.refresh(self.pulls[int(rest) - 1])
            if method == "PATCH":
                for key in ("title", "body", "state"):
                    if key in payload and not (key == "state" and pull["state"] == "merged"):
                        pull[key] = payload[key]
            return 200, self.render(pull)
        return NOT_FOUND
