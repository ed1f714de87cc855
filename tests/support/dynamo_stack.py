"""Real Dynamo 1.6.1 components for tests: the virtualenv `scripts/setup-dynamo-venv` builds (its python from
`GITOPS_SLA_DYNAMO_PYTHON`, which scripts/run-tests exports, else built/cached by the script), a tiny local
model directory built at test time (nothing from a model hub), and the frontend + mocker workers on 127.0.0.1
(`profiler.engines.dynamo_stack.dynamo_stack`: aggregated or prefill/decode, stopped on every path)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from profiler.engines.dynamo_stack import DynamoStack, WorkerTiming, dynamo_stack
from profiler.engines.local_dynamo import tiny_model_dir as build_tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]
MODEL_MAX_CONTEXT = 40960

__all__ = ["DynamoStack", "WorkerTiming", "dynamo_stack", "dynamo_python", "dynamo_venv_python", "tiny_model",
           "tiny_model_dir"]


def dynamo_python() -> Path:
    """The Dynamo virtualenv's python (built by scripts/setup-dynamo-venv when not given)."""
    given = os.environ.get("GITOPS_SLA_DYNAMO_PYTHON")
    if given and Path(given).is_file():
        return Path(given)
    done = subprocess.run([str(ROOT / "scripts/setup-dynamo-venv")], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def tiny_model(python: Path, root: Path) -> Path:
    """A tiny tokenizer + config.json directory under `root`, built with the Dynamo virtualenv."""
    return build_tiny_model_dir(python, MODEL_MAX_CONTEXT, root=root)


@pytest.fixture(scope="session")
def dynamo_venv_python() -> Path:
    """Fixture: the Dynamo virtualenv's python, once per session."""
    return dynamo_python()


@pytest.fixture(scope="session")
def tiny_model_dir(dynamo_venv_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fixture: one tiny local model directory per session."""
    return tiny_model(dynamo_venv_python, tmp_path_factory.mktemp("tiny-model"))
