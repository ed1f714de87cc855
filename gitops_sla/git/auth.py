"""Git credentials: from explicit settings, the environment or a file; never logged; fail fast when wrong.

HTTP(S): a user and token (`GitCredentials`). SSH (`ssh://` and `user@host:path` URLs): a private key file and a
known_hosts file (`SshKey`; in Kubernetes both come from a mounted Secret). An SSH server's host key must be in
known_hosts: an unknown or changed host is refused before any credential is sent, with an error naming it.
libgit2 asks the credentials callback again after every refusal (15 times before it gives up), so the callback
answers once and raises on the second call: a wrong password or key fails in one round trip with a clear error.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import pygit2

from gitops_sla.git.errors import GitAuthError
from gitops_sla.git.known_hosts import host_token, listed_key_types
from gitops_sla.secrets import redact_url, resolve_secret

ENV_USERNAME = "GITOPS_SLA_GIT_USERNAME"
ENV_TOKEN = "GITOPS_SLA_GIT_TOKEN"
ENV_TOKEN_FILE = "GITOPS_SLA_GIT_TOKEN_FILE"
DEFAULT_USERNAME = "x-access-token"  # what GitHub expects with a token; other forges ignore the name
ENV_SSH_KEY_FILE = "GITOPS_SLA_GIT_SSH_KEY_FILE"
ENV_KNOWN_HOSTS_FILE = "GITOPS_SLA_GIT_KNOWN_HOSTS_FILE"
DEFAULT_SSH_USER = "git"
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:\[\]]+):(?!//)")


def ssh_host(url: str) -> tuple[str, int | None] | None:
    """(host, port) of an SSH URL (`ssh://[user@]host[:port]/path` or `user@host:path`), None for other URLs."""
    if url.startswith(("ssh://", "git+ssh://", "ssh+git://")):
        parts = urlsplit(url)
        return (parts.hostname or "", parts.port)
    match = _SCP_LIKE.match(url) if "://" not in url else None
    return (match.group("host"), None) if match and match.group("user") else None


@dataclass(frozen=True)
class SshKey:
    """An SSH private key file (without passphrase) and the known_hosts file the servers' keys are checked
    against (None: libgit2's default, `~/.ssh/known_hosts`)."""

    key_file: Path
    known_hosts_file: Path | None = None

    @classmethod
    def resolve(
        cls,
        *,
        key_file: str | Path | None = None,
        known_hosts_file: str | Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> "SshKey | None":
        """Explicit files win, then `GITOPS_SLA_GIT_SSH_KEY_FILE` / `GITOPS_SLA_GIT_KNOWN_HOSTS_FILE`. None when
        no key is configured. A file that cannot be read is an error naming it and where it was given."""
        env = os.environ if env is None else env
        key = key_file or env.get(ENV_SSH_KEY_FILE)
        known = known_hosts_file or env.get(ENV_KNOWN_HOSTS_FILE)
        for path, what, flag, var in ((key, "SSH key", "--git-ssh-key-file", ENV_SSH_KEY_FILE),
                                      (known, "known_hosts", "--git-known-hosts-file", ENV_KNOWN_HOSTS_FILE)):
            if path and not os.access(path, os.R_OK):
                raise GitAuthError(f"cannot read the {what} file {path}; check {flag} or {var} (in Kubernetes: "
                                   "the Secret mounted there)")
        if not key:
            return None
        return cls(Path(key), Path(known) if known else None)

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

    def __init__(self, credentials: GitCredentials | None, url: str, ssh: SshKey | None = None):
        super().__init__()
        self._credentials = credentials
        self._ssh = ssh
        self._url = url
        self._ssh_host = ssh_host(url)
        self._asked = 0
        self.rejected: dict[str, str] = {}

    def certificate_check(self, certificate, valid, host):  # noqa: D102 (pygit2 callback)
        if self._ssh_host is None:
            raise pygit2.Passthrough  # HTTPS: libgit2's own TLS verdict
        if valid:  # libssh2 found this host with this key in known_hosts
            return True
        name, port = self._ssh_host
        shown = host_token(name, port)
        known = self._ssh.known_hosts_file if self._ssh and self._ssh.known_hosts_file else None
        where = f"the known_hosts file {known}" if known else "~/.ssh/known_hosts"
        listed = listed_key_types(known, name, port) if known and known.is_file() else []
        if listed:
            raise GitAuthError(f"the SSH host key of {shown} does not match {where} (which lists {', '.join(listed)} "
                               "for it): the server's key changed or this is not the host you meant; refused")
        raise GitAuthError(f"SSH host {shown} is not in {where}; unknown hosts are never accepted: add its key "
                           f"(ssh-keyscan{f' -p {port}' if port not in (None, 22) else ''} {name}, after checking "
                           f"the fingerprint) and pass the file with --git-known-hosts-file or "
                           f"{ENV_KNOWN_HOSTS_FILE}")

    def credentials(self, url, username_from_url, allowed_types):  # noqa: D102 (pygit2 callback)
        self._asked += 1
        if allowed_types & pygit2.enums.CredentialType.SSH_KEY:
            return self._ssh_credentials(username_from_url or DEFAULT_SSH_USER)
        if self._credentials is None:
            raise GitAuthError(f"{redact_url(self._url)} asks for credentials and none are configured; "
                               f"set {ENV_TOKEN} or {ENV_TOKEN_FILE} (or --git-token-file)")
        if self._asked > 1:
            raise GitAuthError(f"{redact_url(self._url)} refused the credentials of user "
                               f"'{self._credentials.username}'; check the token")
        return pygit2.UserPass(self._credentials.username, self._credentials.password)

    def _ssh_credentials(self, user: str) -> pygit2.Keypair:
        if self._ssh is None:
            raise GitAuthError(f"{redact_url(self._url)} is an SSH remote and no SSH key is configured; pass "
                               f"--git-ssh-key-file or set {ENV_SSH_KEY_FILE} (and {ENV_KNOWN_HOSTS_FILE})")
        if self._asked > 1:
            raise GitAuthError(f"{redact_url(self._url)} refused the SSH key {self._ssh.key_file} for user '{user}'; "
                               "add its public key to the repository's deploy keys (with write access to push)")
        return pygit2.Keypair(user, None, str(self._ssh.key_file), "")

    def push_update_reference(self, refname, message):  # noqa: D102 (pygit2 callback)
        if message:
            self.rejected[refname] = message
