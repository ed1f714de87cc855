"""Fixtures for measured profiling: the Dynamo virtualenv and a tiny local model, once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.dynamo_stack import dynamo_python, tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def dynamo_venv_python() -> Path:
    return dynamo_python()


@pytest.fixture(scope="session")
def tiny_model_dir(dynamo_venv_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(dynamo_venv_python, tmp_path_factory.mktemp("tiny-model"))
