"""Helpers and fixtures of the reconciler tests: a real `git http-backend` on 127.0.0.1, a person's git-CLI
checkout, a shared profile cache. (A uniquely named module, not `conftest`, so that test folders run together
never import another folder's helpers; `conftest.py` registers the fixtures.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.git_http import GitHttpServer, git  # noqa: E402

from gitops_sla.git import GitCredentials, Mirror  # noqa: E402
from gitops_sla.reconcile.cache import DiskCache  # noqa: E402
from gitops_sla.reconcile.engine import Reconciler  # noqa: E402
from gitops_sla.reconcile.offline import offline_profile  # noqa: E402
from gitops_sla.reconcile.profiling import InlineBackend  # noqa: E402
from profiler.version import PROFILER_VERSION  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "gitops_sla" / "examples" / "quickstart-aic.yaml"
FIXED_DATE = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def request_yaml(name: str, *, ttft: float = 500.0, auto_apply: bool = True) -> str:
    """The quick-start AIC DGDR with another name, TTFT target and autoApply."""
    text = EXAMPLE.read_text()
    text = text.replace("name: sla-aic", f"name: {name}").replace("ttft: 500.0", f"ttft: {ttft}")
    return text.replace("autoApply: true", f"autoApply: {'true' if auto_apply else 'false'}")


@dataclass
class Person:
    """A person working in a git-CLI checkout of the remote (credentials in the URL, as a human might)."""

    root: Path

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit_and_push(self, message: str, *, fixed_date: bool = False) -> str:
        env = FIXED_DATE if fixed_date else None
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message, env=env)
        for _ in range(20):
            try:
                git(self.root, "push", "-q", "origin", "HEAD:main")
                break
            except subprocess.CalledProcessError:
                git(self.root, "pull", "-q", "--rebase", "origin", "main")
        else:
            raise AssertionError("the person could not push after 20 tries")
        return git(self.root, "rev-parse", "HEAD").strip()

    def remove(self, path: str) -> None:
        git(self.root, "rm", "-q", path)

    def pull(self) -> None:
        git(self.root, "pull", "-q", "--rebase", "origin", "main")

    def log(self, *args: str, ref: str = "origin/main") -> str:
        git(self.root, "fetch", "-q", "origin")
        return git(self.root, "log", *args, ref)


@dataclass
class Remote:
    server: GitHttpServer
    name: str
    url: str
    bare: Path
    credentials: GitCredentials

    def mirror(self, cache: Path) -> Mirror:
        return Mirror(self.url, cache, self.credentials)

    def person(self, where: Path) -> Person:
        authed = self.url.replace("http://", f"http://{self.server.username}:{self.server.password}@")
        git(where.parent, "clone", "-q", authed, str(where))
        return Person(where)

    def branch_sha(self, branch: str) -> str | None:
        done = subprocess.run(["git", "-C", str(self.bare), "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
                              capture_output=True, text=True)
        return done.stdout.strip() or None


@pytest.fixture
def git_server(tmp_path):
    root = tmp_path / "server"
    root.mkdir()
    server = GitHttpServer(root).start()
    yield server
    server.stop()


def seed_remote(server: GitHttpServer, tmp_path: Path, name: str = "gitops", config: str | None = None) -> Remote:
    """A remote made from the repository template (with its sample request removed)."""
    bare = server.create_repo(name)
    remote = Remote(server, name, server.url(name), bare, GitCredentials(server.username, server.password))
    seed = tmp_path / f"seed-{name}"
    from gitops_sla.template import TEMPLATE_DIR

    shutil.copytree(TEMPLATE_DIR, seed)
    shutil.rmtree(seed / "requests")
    if config is not None:
        (seed / "gitops-sla.yaml").write_text(config)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "template", env=FIXED_DATE)
    authed = remote.url.replace("http://", f"http://{server.username}:{server.password}@")
    git(seed, "push", "-q", authed, "main")
    return remote


@pytest.fixture
def remote(git_server, tmp_path) -> Remote:
    return seed_remote(git_server, tmp_path)


@pytest.fixture(scope="session")
def profile_cache(tmp_path_factory) -> DiskCache:
    """Profiling outputs by spec hash, shared by the tests (and their subprocesses) of one session."""
    return DiskCache(tmp_path_factory.mktemp("profile-cache"))


def cached_reconciler(remote: Remote, cache_dir: Path, profile_cache: DiskCache, **kwargs) -> Reconciler:
    backend = InlineBackend(profile_cache.wrap(offline_profile), PROFILER_VERSION)
    return Reconciler(remote.mirror(cache_dir), backend, **kwargs)
