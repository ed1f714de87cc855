"""Validate rendered DGDs against the vendored DynamoGraphDeployment CRD's `openAPIV3Schema`."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from profiler.errors import ProfilingError

DGD_CRD = Path(__file__).resolve().parent.parent / "vendor/dynamo/crds/nvidia.com_dynamographdeployments.yaml"


@cache
def _validator(version: str) -> Any:
    from jsonschema import Draft7Validator

    crd = yaml.load(DGD_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return Draft7Validator(entry["schema"]["openAPIV3Schema"])
    raise ProfilingError(f"the vendored DGD CRD has no version {version}")


def schema_errors(dgd: dict[str, Any]) -> list[str]:
    """Every schema violation as `path: message` (empty when the DGD is valid)."""
    version = str(dgd.get("apiVersion", "")).rsplit("/", 1)[-1]
    errors = sorted(_validator(version).iter_errors(dgd), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def validate_dgd(dgd: dict[str, Any]) -> None:
    errors = schema_errors(dgd)
    if errors:
        raise ProfilingError(
            "the rendered DGD does not match the DynamoGraphDeployment CRD (fix the base config): " + "; ".join(errors)
        )
