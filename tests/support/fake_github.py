"""A small GitHub REST v3 fake for pull requests and commit statuses, on 127.0.0.1 (no real forge runs here).

Built from GitHub's REST docs (docs.github.com/rest/pulls/pulls, docs.github.com/rest/commits/statuses):
`GET/POST /repos/{owner}/{repo}/pulls` (list filters `head=owner:branch`, `base`, `state=all`), `GET/PATCH
/repos/{owner}/{repo}/pulls/{number}` (title, body, state), `POST /repos/{owner}/{repo}/statuses/{sha}` (states
error|failure|pending|success, 422 otherwise; `context` defaults to `default`); `Authorization: Bearer` or
`token`. GitHub's rule that matters for idempotency: a second open pull request for the same head and base is
refused with 422. A merged pull request is `state: closed` with `merged_at`.
"""

from __future__ import annotations

from tests.support.fake_forge import NOT_FOUND, FakeForge, Reply, is_sha


class FakeGitHub(FakeForge):
    kind = "github"

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") in (f"Bearer {self.token}", f"token {self.token}")

    def render(self, pull: dict) -> dict:
        merged = pull["state"] == "merged"
        return {"number": pull["number"], "state": "closed" if merged else pull["state"], "title": pull["title"],
                "body": pull["body"], "merged": merged, "merged_at": "2026-01-01T00:00:00Z" if merged else None,
                "html_url": f"https://github.example/{self.owner}/{self.repo}/pull/{pull['number']}",
                "head": {"ref": pull["head"], "sha": pull["sha"]}, "base": {"ref": pull["base"]}}

    def route(self, method: str, path: str, query: dict[str, list[str]], payload: dict) -> Reply:
        prefix = f"/repos/{self.owner}/{self.repo}"
        if method == "POST" and path.startswith(f"{prefix}/statuses/"):
            sha = path.rsplit("/", 1)[1]
            if payload.get("state") not in ("error", "failure", "pending", "success"):
                return 422, {"message": "Validation Failed", "errors": [{"field": "state"}]}
            if not is_sha(sha):
                return 422, {"message": "No commit found for SHA: " + sha}
            return 201, self.add_status(sha, payload["state"], payload.get("context") or "default",
                                        payload.get("description"))
        rest = path[len(f"{prefix}/pulls"):].strip("/") if path.startswith(f"{prefix}/pulls") else None
        if rest == "" and method == "GET":
            state = query.get("state", ["open"])[0]
            states = {"all": ("open", "closed", "merged"), "closed": ("closed", "merged")}.get(state, (state,))
            head = query.get("head", [""])[0].split(":")[-1]
            return 200, [self.render(p) for p in self.find_pulls(head, query.get("base", [""])[0], states)]
        if rest == "" and method == "POST":
            head, base = payload.get("head") or "", payload.get("base") or ""
            if not head or not base or not payload.get("title") or self.branch_sha(head) is None:
                return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}
            pull = self.add_pull(head, base, payload["title"], payload.get("body") or "")
            if pull is None:
                return 422, {"message": "Validation Failed",
                             "errors": [{"message": f"A pull request already exists for {head}."}]}
            return 201, self.render(pull)
        if rest and rest.isdigit() and 0 < int(rest) <= len(self.pulls):
            pull = self.refresh(self.pulls[int(rest) - 1])
            if method == "PATCH":
                for key in ("title", "body", "state"):
                    if key in payload and not (key == "state" and pull["state"] == "merged"):
                        pull[key] = payload[key]
            return 200, self.render(pull)
        return NOT_FOUND
