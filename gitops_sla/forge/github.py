"""A small GitHub REST v3 client for the one pull request per request branch (`gitops-sla/<ns>/<name>`).

Only what the reconciler needs: find the pull requests of a head branch, create one, update its title and
body; set a commit status (a request's deployment state on the commit it was generated from). Merged and closed pull requests are recognised from `merged_at`/`state`. The token is sent in the
`Authorization` header only; it never appears in errors, logs or `repr`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping

import httpx

from gitops_sla.secrets import redact_url, resolve_secret

ENV_API_URL = "GITOPS_SLA_FORGE_API_URL"
ENV_REPO = "GITOPS_SLA_FORGE_REPO"
ENV_TOKEN = "GITOPS_SLA_FORGE_TOKEN"
ENV_TOKEN_FILE = "GITOPS_SLA_FORGE_TOKEN_FILE"
DEFAULT_API_URL = "https://api.github.com"

PullState = Literal["open", "closed", "merged"]


class ForgeError(Exception):
    """The forge API refused or failed a call; the message names the call and the status, never the token."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    state: PullState
    head: str
    base: str
    head_sha: str
    title: str
    body: str


@dataclass(frozen=True)
class ForgeSettings:
    """Where the pull requests go. `repo` is `owner/name`."""

    api_url: str
    repo: str
    token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ForgeSettings(api_url={self.display_url!r}, repo={self.repo!r}, token='***')"

    @property
    def display_url(self) -> str:
        """The API URL without credentials, for messages."""
        return redact_url(self.api_url)

    @classmethod
    def resolve(
        cls,
        *,
        api_url: str | None = None,
        repo: str | None = None,
        token: str | None = None,
        token_file: str | Path | None = None,
        remote_url: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> "ForgeSettings | None":
        """Explicit values, then `GITOPS_SLA_FORGE_*` variables; `repo` defaults to the `owner/name` of the
        Git remote URL. None when no token is configured (pull-request mode then reports an error)."""
        env = os.environ if env is None else env
        secret = resolve_secret(value=token, file=token_file, env=env, env_var=ENV_TOKEN,
                                env_file_var=ENV_TOKEN_FILE, what="forge token", error=ForgeError)
        if not secret:
            return None
        repo = repo or env.get(ENV_REPO) or (owner_repo_from_url(remote_url) if remote_url else None)
        if not repo:
            raise ForgeError(f"no forge repository: pass --forge-repo OWNER/NAME or set {ENV_REPO}")
        return cls((api_url or env.get(ENV_API_URL) or DEFAULT_API_URL).rstrip("/"), repo, secret)


def owner_repo_from_url(url: str) -> str | None:
    """`https://github.com/org/repo.git` or `git@github.com:org/repo.git` -> `org/repo`."""
    match = re.search(r"[/:]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def _pull(data: object, call: str = "the forge") -> PullRequest:
    """A pull request from the forge's JSON; `ForgeError` when the answer is not one (a list, a string,
    missing fields), so a broken or hostile forge fails this call, never the pass."""
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


def _json(response: httpx.Response, call: str) -> object:
    try:
        return response.json()
    except ValueError:
        raise ForgeError(f"{call} did not answer with JSON") from None


class GitHubForge:
    """GitHub REST v3 pull requests of one repository."""

    def __init__(self, settings: ForgeSettings, timeout_s: float = 30.0):
        self.settings = settings
        self._client = httpx.Client(
            base_url=settings.api_url, timeout=timeout_s,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                     "User-Agent": "gitops-sla"},
        )

    def __repr__(self) -> str:
        return f"GitHubForge({self.settings!r})"

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        url = f"/repos/{self.settings.repo}{path}"
        try:
            response = self._client.request(method, url, headers={"Authorization": f"Bearer {self.settings.token}"},
                                            **kwargs)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{method} {self.settings.display_url}{url} failed: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise ForgeError(f"{method} {self.settings.display_url}{url}: {response.status_code}, the forge refused the "
                             f"token; check {ENV_TOKEN} / --forge-token-file and its permissions")
        if response.status_code >= 400:
            detail = response.text[:300].replace(self.settings.token, "***")
            raise ForgeError(f"{method} {self.settings.display_url}{url}: {response.status_code} {detail}")
        return response

    def pulls_for_branch(self, head: str, base: str) -> list[PullRequest]:
        """Every pull request (open, closed or merged) from `head` into `base`, newest first."""
        owner = self.settings.repo.split("/")[0]
        response = self._call("GET", "/pulls", params={"head": f"{owner}:{head}", "base": base, "state": "all",
                                                       "sort": "created", "direction": "desc", "per_page": 100})
        call = f"GET {self.settings.display_url}/repos/{self.settings.repo}/pulls"
        items = _json(response, call)
        if not isinstance(items, list):
            raise ForgeError(f"{call} did not answer with a list of pull requests")
        return [_pull(item, call) for item in items]

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest:
        response = self._call("POST", "/pulls", json={"head": head, "base": base, "title": title, "body": body})
        return _pull(_json(response, "POST /pulls"), "POST /pulls")

    def update_pull(self, number: int, title: str, body: str) -> PullRequest:
        response = self._call("PATCH", f"/pulls/{number}", json={"title": title, "body": body})
        return _pull(_json(response, f"PATCH /pulls/{number}"), f"PATCH /pulls/{number}")

    def close_pull(self, number: int) -> PullRequest:
        response = self._call("PATCH", f"/pulls/{number}", json={"state": "closed"})
        return _pull(_json(response, f"PATCH /pulls/{number}"), f"PATCH /pulls/{number}")

    def set_commit_status(self, sha: str, state: str, context: str, description: str) -> None:
        """A commit status (`pending`, `success`, `failure`, `error`) under `context` on commit `sha`."""
        self._call("POST", f"/statuses/{sha}", json={"state": state, "context": context,
                                                      "description": description[:140]})


PullAction = Literal["created", "updated", "unchanged", "merged", "closed"]


def ensure_pull_request(
    forge: GitHubForge, head: str, base: str, head_sha: str, title: str, body: str
) -> tuple[PullRequest, PullAction]:
    """The one pull request for `head`: update the open one, or create one — unless the newest pull request
    already holds `head_sha` and was merged or closed (then it is reported, never reopened or duplicated)."""
    pulls = forge.pulls_for_branch(head, base)
    open_pulls = [p for p in pulls if p.state == "open"]
    if open_pulls:
        current = open_pulls[0]
        if (current.title, current.body) == (title, body):
            return current, "unchanged"
        return forge.update_pull(current.number, title, body), "updated"
    if pulls and pulls[0].head_sha == head_sha:
        return pulls[0], pulls[0].state  # type: ignore[return-value]
    return forge.create_pull(head, base, title, body), "created"
