"""A small Gitea API v1 fake for pull requests and commit statuses, on 127.0.0.1.

Built from Gitea's swagger (routers/api/v1/repo/pull.go, status.go; docs.gitea.com/api): `GET
/repos/{owner}/{repo}/pulls` (`state` open|closed|all, `base_branch`, `page`, `limit`; no head filter), `POST
/repos/{owner}/{repo}/pulls` (201; 409 when an unmerged pull request for the same head and base exists), `GET/PATCH
/repos/{owner}/{repo}/pulls/{index}` (title, body, state), `POST /repos/{owner}/{repo}/statuses/{sha}` (state
pending|success|error|failure|warning, `context`). A pull request has GitHub's shape: `number`, `state`
open|closed, `merged` and `merged_at`, `head.ref`/`head.sha`, `base.ref`, `html_url`. Token in `Authorization:
token ...`; 401 `{"message": "token is required"}` otherwise. Pages hold at most `page_size` pull requests
whatever `limit` asks (Gitea's `MAX_RESPONSE_ITEMS`, 50 by default), with the total in `X-Total-Count`; tests use
a smaller page so that paging is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.fake_forge import NOT_FOUND, FakeForge, Reply, is_sha

STATES = ("pending", "success", "error", "failure", "warning")


@dataclass
class FakeGitea(FakeForge):
    page_size: int = 50
    kind = "gitea"
    api_path = "/api/v1"

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") == f"token {self.token}"

    def unauthorized(self) -> Reply:
        return 401, {"message": "token is required", "url": "https://gitea.example/api/swagger"}

    def render(self, pull: dict) -> dict:
        merged = pull["state"] == "merged"
        return {"id": 1000 + pull["number"], "number": pull["number"], "state": "closed" if merged else pull["state"],
                "title": pull["title"], "body": pull["body"], "merged": merged,
                "merged_at": "2026-01-01T00:00:00Z" if merged else None,
                "html_url": f"https://gitea.example/{self.owner}/{self.repo}/pulls/{pull['number']}",
                "head": {"ref": pull["head"], "sha": pull["sha"], "label": pull["head"]},
                "base": {"ref": pull["base"], "label": pull["base"]}}

    def route(self, method: str, path: str, query: dict[str, list[str]], payload: dict) -> Reply:
        prefix = f"/repos/{self.owner}/{self.repo}"
        if method == "POST" and path.startswith(f"{prefix}/statuses/"):
            sha = path.rsplit("/", 1)[1]
            if payload.get("state") not in STATES or not is_sha(sha):
                return 422, {"message": "invalid state or sha"}
            return 201, self.add_status(sha, payload["state"], payload.get("context") or "default",
                                        payload.get("description"))
        rest = path[len(f"{prefix}/pulls"):].strip("/") if path.startswith(f"{prefix}/pulls") else None
        if rest == "" and method == "GET":
            state = query.get("state", ["open"])[0]
            states = {"all": ("open", "closed", "merged"), "closed": ("closed", "merged")}.get(state, (state,))
            found = self.find_pulls(None, query.get("base_branch", [""])[0], states)
            limit = min(int(query.get("limit", [str(self.page_size)])[0]) or self.page_size, self.page_size)
            page = max(int(query.get("page", ["1"])[0]), 1)
            return 200, [self.render(p) for p in found[(page - 1) * limit:page * limit]], \
                {"X-Total-Count": str(len(found))}
        if rest == "" and method == "POST":
            head, base = payload.get("head") or "", payload.get("base") or ""
            if not head or not base or self.branch_sha(head) is None:
                return 404, {"message": "The target couldn't be found."}
            pull = self.add_pull(head, base, payload.get("title") or "", payload.get("body") or "")
            if pull is None:
                return 409, {"message": f"pull request already exists for these targets [head: {head}, base: {base}]"}
            return 201, self.render(pull)
        if rest and rest.isdigit() and 0 < int(rest) <= len(self.pulls):
            pull = self.refresh(self.pulls[int(rest) - 1])
            if method == "PATCH":
                for key in ("title", "body", "state"):
                    if key in payload and not (key == "state" and pull["state"] == "merged"):
                        pull[key] = payload[key]
            return 200, self.render(pull)
        return NOT_FOUND
