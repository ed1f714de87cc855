"""The three loopback forge fakes by kind, and a started fake with the product's client for it."""

from __future__ import annotations

from typing import Callable

from tests.support.fake_forge import FakeForge
from tests.support.fake_gitea import FakeGitea
from tests.support.fake_github import FakeGitHub
from tests.support.fake_gitlab import FakeGitLab

from gitops_sla.forge import Forge, ForgeSettings, open_forge

FAKES: dict[str, type[FakeForge]] = {"github": FakeGitHub, "gitlab": FakeGitLab, "gitea": FakeGitea}
KINDS = tuple(FAKES)


def start_forge(kind: str, branch_sha: Callable[[str], str | None], token: str = "t0ken",
                **options: object) -> tuple[FakeForge, Forge]:
    """A started fake of `kind` for `org/gitops`, and a client with `token` (stop the fake when done)."""
    if kind == "gitea":
        options.setdefault("page_size", 1)  # Gitea lists every pull request into the branch: page through them
    fake = FAKES[kind]("org", "gitops", token, branch_sha, **options).start()
    return fake, open_forge(ForgeSettings(fake.api_url, "org/gitops", token, kind))  # type: ignore[arg-type]
