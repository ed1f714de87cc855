"""A small GitHub REST v3 fake for pull requests and commit statuses, on 127.0.0.1 (no real forge runs here).

Built from GitHub's REST docs (docs.github.com/rest/pulls/pulls, docs.github.com/rest/commits/statuses):
`GET/POST /repos/{owner}/{repo}/pulls` (list filters `head=owner:branch`, `base`, `state=all`), `GET/PATCH
/repos/{owner}/{repo}/pulls/{number}` (title, body, state), `POST /repos/{owner}/{repo}/statuses/{sha}` (states
error|failure|pending|success, 422 otherwise; `context` defaults to `default`); `Authorization: Bearer` or
`token`. GitHub's rule that matters for idempotency: a second open pull request for the same head and base is
refused with 422. A merged pull request is `state: closed` with `merged_at`.
"""

from __future__ import annotations

from tests.support.fake_forge import RepoPullsFake, Reply, is_sha


class FakeGitHub(RepoPullsFake):
    kind = "github"
    web_host = "github.example"
    status_states = ("error", "failure", "pending", "success")
    create_needs = ("head", "base", "title")

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") in (f"Bearer {self.token}", f"token {self.token}")

    def list_pulls(self, query: dict[str, list[str]], states: tuple[str, ...]) -> Reply:
        head = query.get("head", [""])[0].split(":")[-1]
        return 200, [self.render(p) for p in self.find_pulls(head, query.get("base", [""])[0], states)]

    def refuse_status(self, sha: str, payload: dict) -> Reply | None:
        if payload.get("state") not in self.status_states:
            return 422, {"message": "Validation Failed", "errors": [{"field": "state"}]}
        if not is_sha(sha):
            return 422, {"message": "No commit found for SHA: " + sha}
        return None

    def refuse_invalid_pull(self) -> Reply:
        return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}

    def refuse_second_pull(self, head: str, base: str) -> Reply:
        return 422, {"message": "Validation Failed",
                     "errors": [{"message": f"A pull request already exists for {head}."}]}
