"""Reading a secret (a Git or forge token) from an explicit value, an environment variable or a file."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping


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
