"""SSH host keys: libgit2 (libssh2) checks the server's key against `<homedir>/.ssh/known_hosts` before any
credential is sent; `use_known_hosts` points libgit2's home directory at one whose `.ssh/known_hosts` is the
operator's file (a link, so a rotated Secret is read on the next connection). `listed_key_types` reads the file
itself, only to say in an error whether a refused host is unknown or has a different key.

libgit2's home directory is one per process: every SSH remote of the process uses the same known_hosts file.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

import pygit2


def use_known_hosts(known_hosts_file: Path, home: Path) -> None:
    """Make libgit2 check SSH host keys against `known_hosts_file` (through `home/.ssh/known_hosts`)."""
    link = home / ".ssh" / "known_hosts"
    link.parent.mkdir(parents=True, exist_ok=True)
    target = known_hosts_file.resolve()
    if not link.is_symlink() or Path(link.readlink()) != target:
        link.unlink(missing_ok=True)
        link.symlink_to(target)
    pygit2.settings.homedir = str(home)


def host_token(host: str, port: int | None) -> str:
    """How known_hosts names `host`: `host`, or `[host]:port` for a port other than 22."""
    return host if port in (None, 22) else f"[{host}]:{port}"


def _matches(pattern: str, token: str) -> bool:
    if pattern.startswith("|1|"):  # hashed: |1|base64(salt)|base64(HMAC-SHA1(salt, token))
        try:
            salt, digest = (base64.b64decode(part) for part in pattern[3:].split("|", 1))
        except ValueError:
            return False
        return hmac.compare_digest(hmac.new(salt, token.encode(), hashlib.sha1).digest(), digest)
    # OpenSSH's wildcards are `*` and `?` only (`[host]:port` brackets are literal)
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), token) is not None


def listed_key_types(known_hosts_file: Path, host: str, port: int | None) -> list[str]:
    """The key types known_hosts lists for `host` (empty: the host is unknown; revoked keys not counted)."""
    token = host_token(host, port)
    types = []
    for line in known_hosts_file.read_text(errors="replace").splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#") or fields[0] == "@revoked":
            continue
        if fields[0].startswith("@"):
            fields = fields[1:]
        if len(fields) < 3:
            continue
        patterns = fields[0].split(",")
        if any(p.startswith("!") and _matches(p[1:], token) for p in patterns):
            continue
        if any(not p.startswith("!") and _matches(p, token) for p in patterns):
            types.append(fields[1])
    return types
