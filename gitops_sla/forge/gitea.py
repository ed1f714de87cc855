"""Gitea API v1 pull requests and commit statuses (also Forgejo, which keeps Gitea's API).

Gitea's pull requests have GitHub's shape (`number`, `state` open/closed, `merged`, `head.ref`/`head.sha`,
`base.ref`, `html_url`) but its list call cannot filter by head branch: open and closed pull requests into the
base branch are listed page by page (until `X-Total-Count` are seen or a page is empty: the server may hold
fewer per page than asked) and filtered here. Statuses take GitHub's four states (Gitea also has
`warning`, unused). The token goes in `Authorization: token TOKEN`.
"""

from __future__ import annotations

from gitops_sla.forge.base import ForgeError, PullRequest, parse_json
from gitops_sla.forge.github import GitHubForge, github_pull

PAGE_SIZE = 50
MAX_PAGES = 100  # 5000 pull requests into one branch at Gitea's default page size


class GiteaForge(GitHubForge):
    """Gitea API v1 pull requests of one repository (`owner/name`): GitHub's calls, Gitea's listing."""

    headers = {"Accept": "application/json"}
    token_scheme = "token"

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
