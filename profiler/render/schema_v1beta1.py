"""Check rendered `nvidia.com/v1beta1` DGDs: their structure as Dynamo 1.6.1 emits them, and every component's
`podTemplate` against Kubernetes' own `PodTemplateSpec` schema.

The structure follows Dynamo 1.6.1's DGD models (`dynamo/profiler/utils/config.py`: `Config`, `Spec`,
`Component`, `PodTemplate`, `Container`; PyPI `ai-dynamo==1.6.1`, Apache-2.0). Pod templates are checked with
the strict (no unknown keys) Kubernetes JSON Schemas that PyPI `kubernetes-validate` ships, for the newest
Kubernetes version it bundles.
"""

from __future__ import annotations

import glob
import json
import os
from functools import cache
from typing import Any

from profiler.errors import ProfilingError

_NAME = {"type": "string", "minLength": 1}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
DGD_V1BETA1_STRUCTURE: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "nvidia.com/v1beta1"},
        "kind": {"const": "DynamoGraphDeployment"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {"name": _NAME, "namespace": _NAME, "labels": _STRING_MAP, "annotations": _STRING_MAP},
        },
        "spec": {
            "type": "object",
            "required": ["components"],
            "properties": {
                "components": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "type", "podTemplate"],
                        "properties": {
                            "name": _NAME,
                            "type": {"enum": ["frontend", "planner", "prefill", "decode", "worker", "main"]},
                            "replicas": {"type": ["integer", "null"], "minimum": 0},
                            "podTemplate": {"type": "object"},
                            "multinode": {"type": "object", "required": ["nodeCount"],
                                          "properties": {"nodeCount": {"type": "integer", "minimum": 1}}},
                            "scalingAdapter": {"type": "object"},
                            "runtimeVersionOverride": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}


@cache
def _structure_validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(DGD_V1BETA1_STRUCTURE)


def kubernetes_schema_dir() -> str:
    """The strict schemas of the newest Kubernetes version `kubernetes-validate` bundles."""
    import kubernetes_validate

    root = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema")
    found = sorted(glob.glob(os.path.join(root, "v*-local-strict")),
                   key=lambda path: tuple(int(p) for p in os.path.basename(path)[1:].split("-")[0].split(".")))
    if not found:
        raise ProfilingError("kubernetes-validate ships no strict schemas; reinstall it")
    return found[-1]


@cache
def _pod_template_validator() -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    folder = kubernetes_schema_dir()
    with open(os.path.join(folder, "_definitions.json"), encoding="utf-8") as file:
        definitions = json.load(file)
    with open(os.path.join(folder, "podtemplatespec-v1.json"), encoding="utf-8") as file:
        schema = json.load(file)
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return Draft202012Validator(schema, registry=registry)


def _errors(validator: Any, document: Any, prefix: list[Any]) -> list[str]:
    errors = sorted(validator.iter_errors(document), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{'.'.join(map(str, prefix + list(e.absolute_path))) or '<root>'}: {e.message}" for e in errors]


def schema_errors_v1beta1(dgd: dict[str, Any]) -> list[str]:
    """Every violation as `path: message` (empty when the DGD is valid)."""
    errors = _errors(_structure_validator(), dgd, [])
    if errors:
        return errors
    for index, component in enumerate(dgd["spec"]["components"]):
        errors += _errors(_pod_template_validator(), component["podTemplate"],
                          ["spec", "components", index, "podTemplate"])
    return errors


def validate_dgd_v1beta1(dgd: dict[str, Any]) -> None:
    errors = schema_errors_v1beta1(dgd)
    if errors:
        raise ProfilingError("the rendered v1beta1 DGD is not what Dynamo 1.x and Kubernetes accept: " + "; ".join(errors))
