"""Reading a secret (a Git or forge token) from an explicit value, an environment variable or a file; and
taking credentials out of URLs before they are logged or written anywhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import httpx

# `scheme://userinfo@`: the userinfo runs to the last `@` before the host's `/` (a password may hold a raw `@`,
# which libgit2 and httpx accept), and stops at whitespace so that URLs inside longer text are found too.
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/]*@")


def redact_url(text: str) -> str:
    """`text` (a URL, or a message holding URLs) with every `user:password@` replaced by `***@`, safe to log."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def strip_userinfo(url: str) -> str:
    """The URL without any `user:password@` part (for URLs written into generated files)."""
    return _URL_USERINFO.sub(r"\g<scheme>", url, count=1)


def http_client_url(url: str) -> tuple[httpx.URL, httpx.BasicAuth | None]:
    """`url` without its `user:password@`, and those credentials as basic auth (what httpx would send for such a
    URL): an httpx client built from these sends the same requests but logs each one's URL without a secret."""
    parsed = httpx.URL(url)
    return parsed.copy_with(userinfo=b""), httpx.BasicAuth(parsed.username, parsed.password) if parsed.userinfo \
        else None


def resolve_secret(
    *,
    value: str | None,
    file: str | Path | None,
    env: Mapping[str, str],
    env_var: str,
    env_file_var: str,
    what: str,
    error: type[Exception],
) -> str | None:
    """`value`, else `$env_var`, else the content of `file` or `$env_file_var`; None when none is set.

    An unreadable or empty file raises `error` naming the file and the variable, never the secret."""
    secret = value or env.get(env_var)
    path = file or env.get(env_file_var)
    if not secret and path:
        try:
            secret = Path(path).read_text().strip()
        except OSError as exc:
            raise error(f"cannot read the {what} file {path}: {exc.strerror}; check the path given on the "
                        f"command line or in {env_file_var}") from None
        if not secret:
            raise error(f"the {what} file {path} is empty; put the token in it")
    return secret or None
