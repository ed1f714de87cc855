"""Validate rendered DGDs against the vendored DynamoGraphDeployment CRD's `openAPIV3Schema`.

The schema is read from `dgd_schema_v1alpha1.json`, extracted from the vendored CRD (parsing the 780 kB CRD
YAML takes longer than the rest of rendering). A test checks that the two agree; after updating the CRD, run
`python -c "from profiler.render.schema import write_schema_json; write_schema_json()"` to extract it again.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from profiler.errors import ProfilingError

DGD_CRD = Path(__file__).resolve().parent.parent / "vendor/dynamo/crds/nvidia.com_dynamographdeployments.yaml"
SCHEMA_VERSION = "v1alpha1"
SCHEMA_JSON = Path(__file__).resolve().parent / f"dgd_schema_{SCHEMA_VERSION}.json"


def crd_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The `openAPIV3Schema` of `version` in the vendored CRD."""
    import yaml

    crd = yaml.load(DGD_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            return entry["schema"]["openAPIV3Schema"]
    raise ProfilingError(f"the vendored DGD CRD has no version {version}")


def schema_json_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True, indent=0) + "\n"


@cache
def _validator() -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(json.loads(SCHEMA_JSON.read_text()))


def schema_errors(dgd: dict[str, Any]) -> list[str]:
    """Every schema violation as `path: message` (empty when the DGD is valid)."""
    version = str(dgd.get("apiVersion", "")).rsplit("/", 1)[-1]
    if version != SCHEMA_VERSION:
        return [f"apiVersion: expected nvidia.com/{SCHEMA_VERSION}, got {dgd.get('apiVersion')!r}"]
    errors = sorted(_validator().iter_errors(dgd), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def validate_dgd(dgd: dict[str, Any]) -> None:
    errors = schema_errors(dgd)
    if errors:
        raise ProfilingError(
            "the rendered DGD does not match the DynamoGraphDeployment CRD (fix the base config): " + "; ".join(errors)
        )


def write_schema_json() -> None:
    SCHEMA_JSON.write_text(schema_json_text(crd_schema()))
