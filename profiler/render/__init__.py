"""Rendering: the DynamoGraphDeployment with its Planner, the profile-data ConfigMap, and YAML output."""

from __future__ import annotations

from typing import Any

import yaml


def to_yaml(document: dict[str, Any]) -> bytes:
    """One YAML style for every generated file: block style, keys in insertion order, no line wrapping."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16).encode()
