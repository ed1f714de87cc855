"""Helpers and fixtures of the deploy tests: kmock as the API server, the reconciler tests' real Git remote,
reconciler processes (a uniquely named module, not `conftest`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "reconcile"))

from reconcile_support import git_server, profile_cache, remote  # noqa: E402
from support.kube_api import KubeApi, kube_api  # noqa: E402

__all__ = ["git_server", "kube", "profile_cache", "remote", "Process", "unreachable_kubeconfig", "wait_for"]


def unreachable_kubeconfig(directory: Path) -> Path:
    """A kubeconfig whose API server is a loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    config = directory / "kubeconfig"
    config.write_text(f"""apiVersion: v1
kind: Config
current-context: c
clusters: [{{name: c, cluster: {{server: "http://127.0.0.1:{port}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: c, context: {{cluster: c, user: u}}}}]
""")
    return config


@pytest.fixture
def kube() -> KubeApi:
    with kube_api() as api:
        yield api


def wait_for(condition: Callable[[], object], what: str, tries: int = 6000, step_s: float = 0.05):
    """Poll `condition` until it returns something true (at most tries × step_s); its value is returned."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        time.sleep(step_s)
    raise AssertionError(f"timed out waiting for {what}")


class Process:
    """A child process in its own process group, output to a file; `kill()` / `terminate()` / `close()`."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.log_path = log
        self._log = log.open("wb")
        self.popen = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                      start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the whole group: a node loss, no chance to hand over."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM (a pod's shutdown), then wait; SIGKILL if it does not end."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode

    def close(self) -> None:
        if self.popen.poll() is None:
            self.kill()
        self._log.close()
