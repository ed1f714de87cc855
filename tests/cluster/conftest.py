"""Fixtures of the cluster tests: kmock as the API server (with fault injection) and its kubeconfig; the Git
remote of the reconciler tests; Dynamo's virtualenv and a tiny local model for the engines."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reconcile"))

from cluster_support import inject_faults  # noqa: E402
from reconcile_support import git_server, remote  # noqa: E402,F401
from support.dynamo_stack import dynamo_venv_python, tiny_model_dir  # noqa: E402,F401
from support.kube_api import kube_api  # noqa: E402

__all__ = ["dynamo_venv_python", "git_server", "remote", "tiny_model_dir"]


@pytest.fixture
def kube(tmp_path):
    """A fresh emulator per test, its history bounded (kmock slows down as it records requests; `kube.km.calls`
    says who called what); `kube.faults` injects errors."""
    with kube_api(keep_requests=64) as api:
        api.faults = inject_faults(api)
        api.kubeconfig_path = api.kubeconfig(tmp_path / "kubeconfig", token="profiling-job")
        yield api
