"""Helpers and fixtures of the deploy tests: kmock as the API server (a uniquely named module, not `conftest`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.kube_api import KubeApi, kube_api  # noqa: E402


@pytest.fixture
def kube() -> KubeApi:
    with kube_api() as api:
        yield api
