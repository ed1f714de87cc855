"""What the reconciler needs from a forge, whichever it is: the pull requests of a head branch (find, create,
update, close) and commit statuses. `ForgeSettings` says where they go; the kinds are in `github`, `gitlab`
and `gitea`, and `open_forge` (in `gitops_sla.forge`) picks one.

The token is sent in a header only; it never appears in errors, logs or `repr`.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Protocol

import httpx

from gitops_sla.secrets import http_client_url, redact_url, resolve_secret

log = logging.getLogger(__name__)

ENV_KIND = "GITOPS_SLA_FORGE_KIND"
ENV_API_URL = "GITOPS_SLA_FORGE_API_URL"
ENV_REPO = "GITOPS_SLA_FORGE_REPO"
ENV_TOKEN = "GITOPS_SLA_FORGE_TOKEN"
ENV_TOKEN_FILE = "GITOPS_SLA_FORGE_TOKEN_FILE"
DEFAULT_API_URL = "https://api.github.com"

ForgeKind = Literal["github", "gitlab", "gitea"]
FORGE_KINDS: tuple[ForgeKind, ...] = ("github", "gitlab", "gitea")
PullState = Literal["open", "closed", "merged"]
# The forge-neutral commit states (GitHub's four); each forge maps them to its own vocabulary.
CommitState = Literal["pending", "success", "failure", "error"]


class ForgeError(Exception):
    """The forge API refused or failed a call; the message names the call and the status, never the token."""


@dataclass(frozen=True)
class PullRequest:
    """A pull request (GitHub, Gitea) or merge request (GitLab; `number` is its `iid`)."""

    number: int
    url: str
    state: PullState
    head: str
    base: str
    head_sha: str
    title: str
    body: str


class Forge(Protocol):
    """The calls the reconciler, the readiness tracker and the planner make."""

    settings: "ForgeSettings"

    def pulls_for_branch(self, head: str, base: str) -> list[PullRequest]:
        """Every pull request (open, closed or merged) from `head` into `base`, newest first."""
        ...

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def update_pull(self, number: int, title: str, body: str) -> PullRequest: ...

    def close_pull(self, number: int) -> PullRequest: ...

    def set_commit_status(self, sha: str, state: CommitState, context: str, description: str) -> None:
        """`state` on commit `sha` under `context` (in the forge's own vocabulary)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ForgeSettings:
    """Where the pull requests go. `repo` is `owner/name` (GitLab: the project's full path, `group/sub/name`)."""

    api_url: str
    repo: str
    token: str = field(repr=False)
    kind: ForgeKind = "github"

    def __repr__(self) -> str:
        return (f"ForgeSettings(kind={self.kind!r}, api_url={self.display_url!r}, repo={self.repo!r}, "
                "token='***')")

    @property
    def display_url(self) -> str:
        """The API URL without credentials, for messages."""
        return redact_url(self.api_url)

    @classmethod
    def resolve(
        cls,
        *,
        kind: str | None = None,
        api_url: str | None = None,
        repo: str | None = None,
        token: str | None = None,
        token_file: str | Path | None = None,
        remote_url: str | None = None,
        repo_config: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> "ForgeSettings | None":
        """Explicit values, then `GITOPS_SLA_FORGE_*` variables; the kind is `github` unless given or
        unambiguous from the API URL (`.../api/v4`: GitLab, `.../api/v1`: Gitea); `repo` defaults to the
        repository path of the Git remote URL, else to `repo_config` (what the repository's gitops-sla.yaml
        names, which may not point the token at another repository: ignored with a warning when the URL names
        another). None when no token is configured (pull-request mode then reports an error)."""
        env = os.environ if env is None else env
        secret = resolve_secret(value=token, file=token_file, env=env, env_var=ENV_TOKEN,
                                env_file_var=ENV_TOKEN_FILE, what="forge token", error=ForgeError)
        if not secret:
            return None
        api_url = (api_url or env.get(ENV_API_URL) or "").rstrip("/")
        kind = kind or env.get(ENV_KIND) or infer_kind(api_url)
        if kind not in FORGE_KINDS:
            raise ForgeError(f"unknown forge kind {kind!r} (--forge or {ENV_KIND}); use one of "
                             f"{', '.join(FORGE_KINDS)}")
        if not api_url:
            if kind != "github":
                example = "https://HOST/api/v4" if kind == "gitlab" else "https://HOST/api/v1"
                raise ForgeError(f"a {kind} forge needs its API URL: pass --forge-api-url or set {ENV_API_URL} "
                                 f"(for example {example})")
            api_url = DEFAULT_API_URL
        remote_repo = repo_path_from_url(remote_url, kind) if remote_url else None
        repo = repo or env.get(ENV_REPO)
        if not repo and repo_config and remote_repo and repo_config.lower() != remote_repo.lower():
            log.warning("gitops-sla.yaml names the forge repository %s, but the reconciler's Git remote is %s: "
                        "ignored, pull requests go to %s (the operator may name another with --forge-repo or %s)",
                        repo_config, remote_repo, remote_repo, ENV_REPO)
        repo = repo or remote_repo or repo_config
        if not repo:
            raise ForgeError(f"no forge repository: pass --forge-repo OWNER/NAME or set {ENV_REPO}")
        return cls(api_url, repo, secret, kind)  # type: ignore[arg-type]


def infer_kind(api_url: str) -> ForgeKind:
    """GitLab for `.../api/v4`, Gitea for `.../api/v1`, else GitHub (api.github.com, Enterprise `.../api/v3`)."""
    path = httpx.URL(api_url).path.rstrip("/") if api_url else ""
    if path.endswith("/api/v4"):
        return "gitlab"
    if path.endswith("/api/v1"):
        return "gitea"
    return "github"


# A remote URL's repository path: `scheme://host[:port]/PATH` or scp-like `user@host:PATH` (never a local path)
_REMOTE_PATH = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+/|[^@/:]+@[^:/]+:)(?P<path>[^:]+?)(?:\.git)?/*$")


def owner_repo_from_url(url: str) -> str | None:
    """`https://github.com/org/repo.git` or `git@github.com:org/repo.git` -> `org/repo` (the last two parts of
    the path); None for a URL whose path has one part, or a local path."""
    return repo_path_from_url(url, "github")


def repo_path_from_url(url: str, kind: str = "github") -> str | None:
    """The repository of a Git URL as the forge names it: `owner/name`, or GitLab's full project path
    (`https://gitlab.example.com/group/sub/name.git` -> `group/sub/name`); None when the URL names none (a local
    path, a path of one part)."""
    match = _REMOTE_PATH.match(url)
    parts = [part for part in match.group("path").split("/") if part] if match else []
    if len(parts) < 2:
        return None
    return "/".join(parts if kind == "gitlab" else parts[-2:])


def parse_json(response: httpx.Response, call: str) -> object:
    """The JSON body, or `ForgeError` naming the call."""
    try:
        return response.json()
    except ValueError:
        raise ForgeError(f"{call} did not answer with JSON") from None


class RestForge:
    """The HTTP part every forge shares: one client, the token in a header, errors without it."""

    def __init__(self, settings: ForgeSettings, headers: dict[str, str], auth_header: tuple[str, str],
                 timeout_s: float = 30.0):
        self.settings = settings
        self._auth = auth_header
        base_url, url_auth = http_client_url(settings.api_url)  # httpx logs every request's URL
        self._client = httpx.Client(base_url=base_url, auth=url_auth, timeout=timeout_s,
                                    headers={"User-Agent": "gitops-sla", **headers})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r})"

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        shown = f"{method} {self.settings.display_url}{url}"
        try:
            response = self._client.request(method, url, headers=dict([self._auth]), **kwargs)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{shown} failed: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise ForgeError(f"{shown}: {response.status_code}, the forge refused the token; check {ENV_TOKEN} / "
                             "--forge-token-file and its permissions")
        if response.status_code >= 400:
            raise ForgeError(f"{shown}: {response.status_code} {self._detail(response)}")
        return response

    def _detail(self, response: httpx.Response) -> str:
        return response.text[:300].replace(self.settings.token, "***")

    def _list(self, url: str, params: dict[str, object], call: str) -> list:
        items = parse_json(self._call("GET", url, params=params), call)
        if not isinstance(items, list):
            raise ForgeError(f"{call} did not answer with a list of pull requests")
        return items


PullAction = Literal["created", "updated", "unchanged", "merged", "closed"]


def ensure_pull_request(
    forge: Forge, head: str, base: str, head_sha: str, title: str, body: str
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
