"""GitHub REST v3 pull requests and commit statuses (also GitHub Enterprise, `https://HOST/api/v3`).

Only what the reconciler needs: find the pull requests of a head branch, create one, update its title and body,
close it; set a commit status. Merged and closed pull requests are recognised from `merged_at`/`state`.
"""

from __future__ import annotations

from typing import ClassVar

from gitops_sla.forge.base import CommitState, ForgeError, ForgeSettings, PullRequest, RestForge, parse_json


def github_pull(data: object, call: str = "the forge") -> PullRequest:
    """A pull request from GitHub's (or Gitea's, which has the same shape) JSON; `ForgeError` when the answer is
    not one (a list, a string, missing fields), so a broken or hostile forge fails this call, never the pass."""
    try:
        state = "merged" if data.get("merged_at") or data.get("merged") else data["state"]  # type: ignore[union-attr]
        if state not in ("open", "closed", "merged"):
            raise ValueError(f"state {state!r}")
        pull = PullRequest(
            number=int(data["number"]), url=str(data.get("html_url", "")), state=state,  # type: ignore[index]
            head=str(data["head"]["ref"]), base=str(data["base"]["ref"]),  # type: ignore[index]
            head_sha=str(data["head"].get("sha", "")), title=str(data.get("title") or ""),  # type: ignore[index]
            body=str(data.get("body") or ""),  # type: ignore[union-attr]
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ForgeError(f"{call} did not answer with a pull request ({type(exc).__name__}: {exc})") from None
    return pull


class GitHubForge(RestForge):
    """GitHub REST v3 pull requests of one repository (`Authorization: Bearer TOKEN`). Gitea's API has the same
    calls: `GiteaForge` changes only the headers, the token's scheme and how pull requests are listed."""

    headers: ClassVar[dict[str, str]] = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    token_scheme: ClassVar[str] = "Bearer"

    def __init__(self, settings: ForgeSettings, timeout_s: float = 30.0):
        super().__init__(settings, self.headers, ("Authorization", f"{self.token_scheme} {settings.token}"), timeout_s)
        self._prefix = f"/repos/{settings.repo}"

    def pulls_for_branch(self, head: str, base: str) -> list[PullRequest]:
        """Every pull request (open, closed or merged) from `head` into `base`, newest first."""
        owner = self.settings.repo.split("/")[0]
        call = f"GET {self.settings.display_url}{self._prefix}/pulls"
        items = self._list(f"{self._prefix}/pulls", {"head": f"{owner}:{head}", "base": base, "state": "all",
                                                     "sort": "created", "direction": "desc", "per_page": 100}, call)
        return [github_pull(item, call) for item in items]

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
        """A commit status (`pending`, `success`, `failure`, `error`: GitHub's own, and among Gitea's) under
        `context`."""
        self._call("POST", f"{self._prefix}/statuses/{sha}", json={"state": state, "context": context,
                                                                    "description": description[:140]})
