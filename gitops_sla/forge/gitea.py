"""Gitea API v1 pull requests and commit statuses (also Forgejo, which keeps Gitea's API).

Gitea's pull requests have GitHub's shape (`number`, `state` open/closed, `merged`, `head.ref`/`head.sha`,
`base.ref`, `html_url`) but its list call cannot filter by head branch: open and closed pull requests into the
base branch are listed page by page (until `X-Total-Count` are seen or a page is empty: the server may hold
fewer per page than asked) and filtered here. Statuses take GitHub's four states (Gitea also has
`warning`, unused). The token goes in `Authorization: token TOKEN`.
"""

from __future__ import annotations

from gitops_sla.forge.base import CommitState, ForgeError, ForgeSettings, PullRequest, RestForge, parse_json
from gitops_sla.forge.github import github_pull

PAGE_SIZE = 50
MAX_PAGES = 100  # 5000 pull requests into one branch at Gitea's default page size


class GiteaForge(RestForge):
    """Gitea API v1 pull requests of one repository (`owner/name`)."""

    def __init__(self, settings: ForgeSettings, timeout_s: float = 30.0):
        super().__init__(settings, {"Accept": "application/json"}, ("Authorization", f"token {settings.token}"),
                         timeout_s)
        self._prefix = f"/repos/{settings.repo}"

    def pulls_for_branch(self, head: str, base: str) -> list[PullRequest]:
        """Every pull request (open, closed or merged) from `head` into `base`, newest first."""
        call = f"GET {self.settings.display_url}{self._prefix}/pulls"
        found: list[PullRequest] = []
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            response = self._call("GET", f"{self._prefix}/pulls", params={"state": "all", "base_branch": base,
                                                                          "page": page, "limit": PAGE_SIZE})
            items = parse_json(response, call)
            if not isinstance(items, list):
                raise ForgeError(f"{call} did not answer with a list of pull requests")
            pulls = [github_pull(item, call) for item in items]
            found += [p for p in pulls if p.head == head and p.base == base]
            seen += len(items)
            total = response.headers.get("X-Total-Count", "")
            if not items or (total.isdigit() and seen >= int(total)):
                break
        return sorted(found, key=lambda p: -p.number)

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        response = self._call("POST", f"{self._prefix}/pulls", json={"head": head, "base": base, "title": title,
                                                                     "body": body})
        return github_pull(parse_json(response, "POST /pulls"), "POST /pulls")

    def update_pull(self, number: int, title: str, body: str) -> PullRequest:
        response = self._call("PATCH", f"{self._prefix}/pulls/{number}", json={"title": title, "body": body})
        return github_pull(parse_json(response, f"PATCH /pulls/{number}"), f"PATCH /pulls/{number}")

    def close_pull(self, number: int) -> PullRequest:
        response = self._call("PATCH", f"{self._prefix}/pulls/{number}", json={"state": "closed"})
        return github_pull(parse_json(response, f"PATCH /pulls/{number}"), f"PATCH /pulls/{number}")

    def set_commit_status(self, sha: str, state: CommitState, context: str, description: str) -> None:
        """A commit status under `context`; Gitea's states include GitHub's four unchanged."""
        self._call("POST", f"{self._prefix}/statuses/{sha}", json={"state": state, "context": context,
                                                                    "description": description[:140]})
