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

from tests.support.fake_forge import RepoPullsFake, Reply, is_sha


@dataclass
class FakeGitea(RepoPullsFake):
    page_size: int = 50
    kind = "gitea"
    api_path = "/api/v1"
    web_host = "gitea.example"
    pull_web_path = "pulls"
    status_states = ("pending", "success", "error", "failure", "warning")

    def authorized(self, headers) -> bool:
        return headers.get("Authorization") == f"token {self.token}"

    def unauthorized(self) -> Reply:
        return 401, {"message": "token is required", "url": "https://gitea.example/api/swagger"}

    def render(self, pull: dict) -> dict:
        rendered = super().render(pull)
        rendered["head"]["label"], rendered["base"]["label"] = pull["head"], pull["base"]
        return {"id": 1000 + pull["number"], **rendered}

    def list_pulls(self, query: dict[str, list[str]], states: tuple[str, ...]) -> Reply:
        found = self.find_pulls(None, query.get("base_branch", [""])[0], states)
        limit = min(int(query.get("limit", [str(self.page_size)])[0]) or self.page_size, self.page_size)
        page = max(int(query.get("page", ["1"])[0]), 1)
        return 200, [self.render(p) for p in found[(page - 1) * limit:page * limit]], {"X-Total-Count": str(len(found))}

    def refuse_status(self, sha: str, payload: dict) -> Reply | None:
        return None if payload.get("state") in self.status_states and is_sha(sha) else \
            (422, {"message": "invalid state or sha"})

    def refuse_invalid_pull(self) -> Reply:
        return 404, {"message": "The target couldn't be found."}

    def refuse_second_pull(self, head: str, base: str) -> Reply:
        return 409, {"message": f"pull request already exists for these targets [head: {head}, base: {base}]"}
