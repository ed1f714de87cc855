"""Git credentials: from explicit settings, the environment or a file; never logged; fail fast when wrong.

libgit2 asks the credentials callback again after every 401 (15 times before it gives up), so the callback
answers once and raises on the second call: a wrong password fails in one round trip with a clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pygit2

from gitops_sla.git.errors import GitAuthError
from gitops_sla.secrets import redact_url, resolve_secret

ENV_USERNAME = "GITOPS_SLA_GIT_USERNAME"
ENV_TOKEN = "GITOPS_SLA_GIT_TOKEN"
ENV_TOKEN_FILE = "GITOPS_SLA_GIT_TOKEN_FILE"
DEFAULT_USERNAME = "x-access-token"  # what GitHub expects with a token; other forges ignore the name

@dataclass(frozen=True)
class GitCredentials:
    """HTTP basic credentials (a token works as the password). `repr` never shows the secret."""

    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"GitCredentials(username={self.username!r}, password='***')"

    @classmethod
    def resolve(
        cls,
        *,
        username: str | None = None,
        token: str | None = None,
        token_file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> "GitCredentials | None":
        """Explicit values win, then `GITOPS_SLA_GIT_USERNAME` / `GITOPS_SLA_GIT_TOKEN` /
        `GITOPS_SLA_GIT_TOKEN_FILE`. None when no secret is configured (anonymous or URL credentials)."""
        env = os.environ if env is None else env
        secret = resolve_secret(value=token, file=token_file, env=env, env_var=ENV_TOKEN,
                                env_file_var=ENV_TOKEN_FILE, what="Git token", error=GitAuthError)
        if not secret:
            return None
        return cls(username or env.get(ENV_USERNAME) or DEFAULT_USERNAME, secret)


class RemoteCallbacks(pygit2.RemoteCallbacks):
    """Answers the credentials question once and records server-side ref rejections.

    pygit2 does not raise when the server refuses a ref update (a racing push, `denyNonFastForwards`):
    the refusal only arrives here, in `push_update_reference`, and must be checked by the caller.
    """

    def __init__(self, credentials: GitCredentials | None, url: str):
        super().__init__()
        self._credentials = credentials
        self._url = url
        self._asked = 0
        self.rejected: dict[str, str] = {}

    def credentials(self, url, username_from_url, allowed_types):  # noqa: D102 (pygit2 callback)
        self._asked += 1
        if self._credentials is None:
            raise GitAuthError(f"{redact_url(self._url)} asks for credentials and none are configured; "
                               f"set {ENV_TOKEN} or {ENV_TOKEN_FILE} (or --git-token-file)")
        if self._asked > 1:
            raise GitAuthError(f"{redact_url(self._url)} refused the credentials of user "
                               f"'{self._credentials.username}'; check the token")
        return pygit2.UserPass(self._credentials.username, self._credentials.password)

    def push_update_reference(self, refname, message):  # noqa: D102 (pygit2 callback)
        if message:
            self.rejected[refname] = message
