"""Fixtures for measured profiling: the Dynamo virtualenv and a tiny local model, once per session."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.dynamo_stack import dynamo_venv_python, tiny_model_dir  # noqa: E402

__all__ = ["dynamo_venv_python", "tiny_model_dir"]
