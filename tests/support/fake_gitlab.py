"""A small GitLab REST v4 fake for merge requests and commit statuses, on 127.0.0.1.

Built from GitLab's API docs (docs.gitlab.com/api/merge_requests, docs.gitlab.com/api/commits "Set the pipeline
status of a commit", docs.gitlab.com/api/rest "Namespaced paths"): the project is addressed by its URL-encoded
path (`/projects/org%2Fgitops`; an unencoded slash is another route: 404); `PRIVATE-TOKEN` header, 401 `{"message":
"401 Unauthorized"}` otherwise. `GET/POST /projects/:id/merge_requests` (filters `source_branch`,
`target_branch`, `state` opened|closed|merged|all; a second open merge request for a source branch is 409 "Another
open merge request already exists for this source branch"), `PUT /projects/:id/merge_requests/:iid` (title,
description, `state_event: close`). A merge request has `iid`, `state` opened|closed|merged, `source_branch`,
`target_branch`, `sha`, `web_url`, `title`, `description`. `POST /projects/:id/statuses/:sha` takes `state`
pending|running|success|failed|canceled (400 otherwise) and `name` (or `context`, default `default`); like
GitLab, posting the state a pending or running status already has is 400 "Cannot transition status via ...".
"""

from __future__ import annotations

from urllib.parse import quote

from tests.support.fake_forge import NOT_FOUND, FakeForge, Reply, is_sha

STATES = ("pending", "running", "success", "failed", "canceled")
_VERBS = {"pending": "enqueue", "running": "run", "success": "succeed", "failed": "drop", "canceled": "cancel"}


class FakeGitLab(FakeForge):
    kind = "gitlab"
    api_path = "/api/v4"

    def authorized(self, headers) -> bool:
        return headers.get("PRIVATE-TOKEN") == self.token

    def unauthorized(self) -> Reply:
        return 401, {"message": "401 Unauthorized"}

    def render(self, pull: dict) -> dict:
        return {"id": 1000 + pull["number"], "iid": pull["number"], "project_id": 1,
                "state": "opened" if pull["state"] == "open" else pull["state"], "title": pull["title"],
                "description": pull["body"], "source_branch": pull["head"], "target_branch": pull["base"],
                "sha": pull["sha"], "web_url": f"https://gitlab.example/{self.owner}/{self.repo}/-/merge_requests/"
                                               f"{pull['number']}"}

    def route(self, method: str, path: str, query: dict[str, list[str]], payload: dict) -> Reply:
        prefix = f"/projects/{quote(f'{self.owner}/{self.repo}', safe='')}"
        if not path.startswith(prefix + "/"):
            return 404, {"message": "404 Project Not Found"}
        rest = path[len(prefix):]
        if method == "POST" and rest.startswith("/statuses/"):
            return self._status(rest.rsplit("/", 1)[1], payload)
        if rest == "/merge_requests" and method == "GET":
            state = query.get("state", ["all"])[0]
            states = {"all": ("open", "closed", "merged"), "opened": ("open",)}.get(state, (state,))
            pulls = self.find_pulls(query.get("source_branch", [""])[0], query.get("target_branch", [""])[0], states)
            return 200, [self.render(p) for p in pulls]
        if rest == "/merge_requests" and method == "POST":
            head, base = payload.get("source_branch") or "", payload.get("target_branch") or ""
            if not head or not base or not payload.get("title") or self.branch_sha(head) is None:
                return 400, {"message": "source_branch, target_branch, title are missing or invalid"}
            pull = self.add_pull(head, base, payload["title"], payload.get("description") or "")
            if pull is None:
                [other] = self.find_pulls(head, base, ("open",))
                return 409, {"message": [f"Another open merge request already exists for this source branch: "
                                         f"!{other['number']}"]}
            return 201, self.render(pull)
        iid = rest[len("/merge_requests/"):] if rest.startswith("/merge_requests/") else ""
        if iid.isdigit() and 0 < int(iid) <= len(self.pulls):
            pull = self.refresh(self.pulls[int(iid) - 1])
            if method == "PUT":
                pull["title"] = payload.get("title", pull["title"])
                pull["body"] = payload.get("description", pull["body"])
                if payload.get("state_event") == "close" and pull["state"] == "open":
                    pull["state"] = "closed"
            return 200, self.render(pull)
        return NOT_FOUND

    def _status(self, sha: str, payload: dict) -> Reply:
        state = payload.get("state")
        if state not in STATES:
            return 400, {"error": "state does not have a valid value"}
        if not is_sha(sha):
            return 404, {"message": "404 Commit Not Found"}
        name = payload.get("name") or payload.get("context") or "default"
        current = [s for s in self.statuses if s["sha"] == sha and s["context"] == name]
        if current and current[-1]["state"] in ("pending", "running") and current[-1]["state"] == state:
            return 400, {"message": f"Cannot transition status via :{_VERBS[state]} from :{state} "
                                    f"(Reason(s): Status cannot transition via \"{_VERBS[state]}\")"}
        return 201, {**self.add_status(sha, state, name, payload.get("description")), "status": state, "name": name}
