"""Git over SSH against a real OpenSSH server on 127.0.0.1: fetch and push with a key file and a known_hosts
file; an unknown host, a changed host key and a refused key each fail with an error that names them."""

from __future__ import annotations

import subprocess

import pygit2
import pytest

from support.ssh_server import SshServer, keygen

from gitops_sla.git import Changes, GitAuthError, Mirror, SshKey, commit_changes
from gitops_sla.git.auth import ssh_host
from gitops_sla.git.known_hosts import listed_key_types


def _git(cwd, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def server(tmp_path):
    home = pygit2.settings.homedir  # libgit2's home is per process: put it back
    root = tmp_path / "sshd"
    root.mkdir()
    server = SshServer(root, keygen(tmp_path / "client_key", "gitops-sla-test"))
    try:
        server.start()
    except FileNotFoundError as exc:
        pytest.skip(str(exc))  # scripts/run-tests installs openssh-server
    try:
        yield server
    finally:
        server.stop()
        pygit2.settings.homedir = home


@pytest.fixture
def repo(tmp_path):
    work = tmp_path / "work"
    bare = tmp_path / "repo.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(tmp_path, "init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text("hello\n")
    _git(work, "add", ".")
    _git(work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
    _git(work, "push", "-q", str(bare), "main")
    return bare


def _known_hosts(tmp_path, text: str):
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return path


def test_fetch_and_push_over_ssh(server, repo, tmp_path):
    ssh = SshKey(server.client_key, _known_hosts(tmp_path, server.known_hosts_line()))
    mirror = Mirror(server.url(repo), tmp_path / "cache", ssh=ssh)
    mirror.fetch()
    assert mirror.head("main") == _git(repo, "rev-parse", "main")
    assert mirror.snapshot(mirror.head("main")).read("README.md") == b"hello\n"

    pushed = commit_changes(mirror, "main", lambda head: Changes({"requests/a/b.yaml": b"x: 1\n"}), "add b")
    assert pushed.commit == _git(repo, "rev-parse", "main")
    assert _git(repo, "show", "main:requests/a/b.yaml") == "x: 1"


def test_an_unknown_host_is_refused_by_name(server, repo, tmp_path):
    other = keygen(tmp_path / "other_host", "other")
    known = _known_hosts(tmp_path, f"git.example.com {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    mirror = Mirror(server.url(repo), tmp_path / "cache", ssh=SshKey(server.client_key, known))
    with pytest.raises(GitAuthError, match=rf"SSH host \[127.0.0.1\]:{server.port} is not in the known_hosts file "
                                           rf"{known}; unknown hosts are never accepted"):
        mirror.fetch()
    assert mirror.head("main") is None


def test_a_changed_host_key_is_refused(server, repo, tmp_path):
    other = keygen(tmp_path / "other_host", "other")
    key = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known = _known_hosts(tmp_path, f"[127.0.0.1]:{server.port} {key}\n")
    mirror = Mirror(server.url(repo), tmp_path / "cache", ssh=SshKey(server.client_key, known))
    with pytest.raises(GitAuthError, match=rf"SSH host key of \[127.0.0.1\]:{server.port} does not match "
                                           rf"the known_hosts file {known} \(which lists ssh-ed25519"):
        mirror.fetch()


def test_a_key_the_server_does_not_know_is_refused(server, repo, tmp_path):
    stranger = keygen(tmp_path / "stranger", "stranger")
    known = _known_hosts(tmp_path, server.known_hosts_line())
    mirror = Mirror(server.url(repo), tmp_path / "cache", ssh=SshKey(stranger, known))
    with pytest.raises(GitAuthError, match=f"refused the SSH key {stranger} for user"):
        mirror.fetch()
    without_key = Mirror(server.url(repo), tmp_path / "cache2")
    with pytest.raises(GitAuthError, match="is an SSH remote and no SSH key is configured; pass --git-ssh-key-file"):
        without_key.fetch()


def test_hashed_known_hosts_entries_count(server, repo, tmp_path):
    known = _known_hosts(tmp_path, server.known_hosts_line())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    (tmp_path / "known_hosts.old").unlink()
    assert known.read_text().startswith("|1|")
    assert listed_key_types(known, "127.0.0.1", server.port) == ["ssh-ed25519"]
    assert listed_key_types(known, "127.0.0.1", None) == []
    mirror = Mirror(server.url(repo), tmp_path / "cache", ssh=SshKey(server.client_key, known))
    mirror.fetch()
    assert mirror.head("main") == _git(repo, "rev-parse", "main")


def test_ssh_urls_and_settings():
    assert ssh_host("git@github.com:org/repo.git") == ("github.com", None)
    assert ssh_host("ssh://git@git.example:2222/org/repo.git") == ("git.example", 2222)
    assert ssh_host("https://github.com/org/repo.git") is None and ssh_host("/srv/repo.git") is None
    assert SshKey.resolve(env={}) is None
    with pytest.raises(GitAuthError, match="cannot read the SSH key file /nonexistent/id; check --git-ssh-key-file or "
                                           "GITOPS_SLA_GIT_SSH_KEY_FILE"):
        SshKey.resolve(env={"GITOPS_SLA_GIT_SSH_KEY_FILE": "/nonexistent/id"})
