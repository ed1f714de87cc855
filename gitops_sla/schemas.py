"""JSON Schemas generated from the models, for editors (`# yaml-language-server: $schema=...`) and tools.

pydantic writes each model's camelCase keys; the profile config sections also accept snake_case (as Dynamo's
profiler does), so those spellings are added, and `planner` lists every passthrough key of the planner's flag
table with its type and choices. The committed files in `schemas/` must equal `generate_schemas()`
(`gitops-sla schemas --check`, and a test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

from gitops_sla.models import DynamoGraphDeploymentRequest, RepoConfig, RequestStatusFile
from gitops_sla.models.dgdr_v1beta1 import DynamoGraphDeploymentRequestV1Beta1
from profiler.config import Section
from profiler.dynamo_planner_config import planner_config_fields
from profiler.planner_flags import PLANNER_FLAGS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "dynamographdeploymentrequest.schema.json": DynamoGraphDeploymentRequest,
    "dynamographdeploymentrequest-v1beta1.schema.json": DynamoGraphDeploymentRequestV1Beta1,
    "repo-config.schema.json": RepoConfig,
    "request-status.schema.json": RequestStatusFile,
}
PROJECT_SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

_JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _planner_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for flag in PLANNER_FLAGS:
        schema: dict[str, Any] = {"type": _JSON_TYPES[flag.kind], "description": flag.help}
        if flag.choices:
            schema["enum"] = list(flag.choices)
        if flag.default is None:
            schema = {"anyOf": [schema, {"type": "null"}], "description": flag.help}
        properties[flag.passthrough_key] = schema
        properties[to_camel(flag.passthrough_key)] = schema
    return {
        "type": "object",
        "description": "Planner passthrough: planner_<flag>: value, for the flags of `python -m planner`.",
        "properties": properties,
        "additionalProperties": False,
    }


def _planner_config_schema() -> dict[str, Any]:
    """v1beta1 `features.planner`: the keys of Dynamo 1.6.1's `PlannerConfig` (and their aliases)."""
    properties: dict[str, Any] = {}
    for name, field in planner_config_fields().items():
        kind = field["kind"]
        schema: dict[str, Any] = {"type": "object" if kind == "object" else _JSON_TYPES[kind]}
        if field.get("choices"):
            schema["enum"] = list(field["choices"])
        if field.get("nullable"):
            schema = {"anyOf": [schema, {"type": "null"}]}
        for key in (name, *field.get("aliases", [])):
            properties[key] = schema
    return {
        "type": "object",
        "description": "Dynamo 1.x PlannerConfig (dynamo.planner.config.planner_config), snake_case keys.",
        "properties": properties,
        "additionalProperties": False,
    }


def _add_snake_case(schema: dict[str, Any], model: type[BaseModel]) -> None:
    properties = schema.get("properties", {})
    for name, info in model.model_fields.items():
        alias = info.alias or name
        if alias in properties and name != alias:
            properties[name] = properties[alias]


def model_schema(model: type[BaseModel], file_name: str) -> dict[str, Any]:
    """The JSON Schema of one model, with snake_case spellings and the planner keys filled in."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    sections = {cls.__name__: cls for cls in Section.__subclasses__()}
    for title, definition in schema.get("$defs", {}).items():
        if title in sections:
            _add_snake_case(definition, sections[title])
        if title == "ProfileConfig":
            definition["properties"]["planner"] = _planner_schema()
        if title == "FeaturesSpec":
            definition["properties"]["planner"] = {"anyOf": [_planner_config_schema(), {"type": "null"}]}
    return {"$schema": SCHEMA_DIALECT, "$id": file_name, **schema}


def generate_schemas() -> dict[str, str]:
    """File name -> JSON text (2-space indent, trailing newline) for every schema."""
    return {
        name: json.dumps(model_schema(model, name), indent=2, ensure_ascii=False) + "\n"
        for name, model in SCHEMA_FILES.items()
    }


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory`; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate_schemas().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """Names of schema files in `directory` that are missing or differ from the models."""
    stale = []
    for name, text in generate_schemas().items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale
