"""GitLab REST v4 merge requests and commit statuses.

The project is addressed by its URL-encoded full path (`group%2Fsub%2Fname`); the token goes in the
`PRIVATE-TOKEN` header. Merge requests: `iid` (our pull request number), `state` opened/closed/locked/merged,
`source_branch`/`target_branch`, `sha` (the source branch's head), `web_url`, `title`, `description`; they are
closed with `state_event: close`. Commit statuses (`POST /projects/:id/statuses/:sha`, field `name`) take
GitLab's own states: ours map to `running` (deploying), `success`, `failed` and `canceled` (the deployment is
gone). GitLab refuses to post a running status over a running one ("Cannot transition status"): that status is
already set, so it is not an error.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from gitops_sla.forge.base import CommitState, ForgeError, ForgeSettings, PullRequest, RestForge, parse_json

log = logging.getLogger(__name__)

STATUS_STATES: dict[str, str] = {"pending": "running", "success": "success", "failure": "failed",
                                 "error": "canceled"}
_STATES = {"opened": "open", "locked": "open", "closed": "closed", "merged": "merged"}


def gitlab_merge_request(data: object, call: str = "the forge") -> PullRequest:
    """A merge request from GitLab's JSON; `ForgeError` when the answer is not one."""
    try:
        state = _STATES[data["state"]]  # type: ignore[index]
        pull = PullRequest(
            number=int(data["iid"]), url=str(data.get("web_url") or ""), state=state,  # type: ignore
            head=str(data["source_branch"]), base=str(data["target_branch"]),  # type: ignore[index]
            head_sha=str(data.get("sha") or ""), title=str(data.get("title") or ""),  # type: ignore[union-attr]
            body=str(data.get("description") or ""),  # type: ignore[union-attr]
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ForgeError(f"{call} did not answer with a merge request ({type(exc).__name__}: {exc})") from None
    return pull


class GitLabForge(RestForge):
    """GitLab REST v4 merge requests of one project (`group/name`, nested groups allowed)."""

    def __init__(self, settings: ForgeSettings, timeout_s: float = 30.0):
        super().__init__(settings, {"Accept": "application/json"}, ("PRIVATE-TOKEN", settings.token), timeout_s)
        self._prefix = f"/projects/{quote(settings.repo, safe='')}"

    def pulls_for_branch(self, head: str, base: str) -> list[PullRequest]:
        """Every merge request (open, closed or merged) from `head` into `base`, newest first."""
        call = f"GET {self.settings.display_url}{self._prefix}/merge_requests"
        items = self._list(f"{self._prefix}/merge_requests", {
            "source_branch": head, "target_branch": base, "state": "all", "order_by": "created_at", "sort": "desc",
            "per_page": 100}, call)
        pulls = [gitlab_merge_request(item, call) for item in items]
        return sorted((p for p in pulls if p.head == head and p.base == base), key=lambda p: -p.number)

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        call = "POST /merge_requests"
        response = self._call("POST", f"{self._prefix}/merge_requests", json={
            "source_branch": head, "target_branch": base, "title": title, "description": body})
        return gitlab_merge_request(parse_json(response, call), call)

    def update_pull(self, number: int, title: str, body: str) -> PullRequest:
        call = f"PUT /merge_requests/{number}"
        response = self._call("PUT", f"{self._prefix}/merge_requests/{number}", json={"title": title,
                                                                                       "description": body})
        return gitlab_merge_request(parse_json(response, call), call)

    def close_pull(self, number: int) -> PullRequest:
        call = f"PUT /merge_requests/{number}"
        response = self._call("PUT", f"{self._prefix}/merge_requests/{number}", json={"state_event": "close"})
        return gitlab_merge_request(parse_json(response, call), call)

    def set_commit_status(self, sha: str, state: CommitState, context: str, description: str) -> None:
        """GitLab's `running`/`success`/`failed`/`canceled` for our pending/success/failure/error."""
        try:
            self._call("POST", f"{self._prefix}/statuses/{sha}", json={
                "state": STATUS_STATES[state], "name": context, "description": description[:140]})
        except ForgeError as exc:
            if ": 400 " in str(exc) and "Cannot transition status" in str(exc):
                log.debug("commit status %s on %s is already %s", context, sha[:12], STATUS_STATES[state])
                return
            raise
