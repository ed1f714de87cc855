"""The committed JSON Schemas match the models, and they accept and reject what the models do."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gitops_sla.cli import main
from gitops_sla.schemas import PROJECT_SCHEMA_DIR, SCHEMA_FILES, generate_schemas, stale_schemas
from gitops_sla.yamlsafe import load_yaml

ROOT = Path(__file__).resolve().parent.parent
# v1alpha1 examples (the v1beta1 ones, in dynamo-1.6.1/, are checked by tests/test_v1beta1.py)
EXAMPLES = sorted(p for p in (ROOT / "gitops_sla" / "examples").rglob("*.yaml") if "dynamo-1.6.1" not in p.parts)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((PROJECT_SCHEMA_DIR / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schemas_match_the_models() -> None:
    generated = generate_schemas()
    assert set(generated) == set(SCHEMA_FILES)
    for name, text in generated.items():
        assert (PROJECT_SCHEMA_DIR / name).read_text() == text, f"{name} drifted: run 'gitops-sla schemas'"
    assert stale_schemas(PROJECT_SCHEMA_DIR) == []


def test_schemas_command_writes_and_checks(tmp_path: Path, capsys) -> None:
    assert main(["schemas", "--output", str(tmp_path), "--check"]) == 1
    assert main(["schemas", "--output", str(tmp_path)]) == 0
    assert main(["schemas", "--output", str(tmp_path), "--check"]) == 0
    (tmp_path / "repo-config.schema.json").write_text("{}")
    assert main(["schemas", "--output", str(tmp_path), "--check"]) == 1
    assert "repo-config.schema.json: out of date" in capsys.readouterr().err


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_examples_satisfy_the_dgdr_schema(example: Path) -> None:
    _validator("dynamographdeploymentrequest.schema.json").validate(load_yaml(example.read_bytes()).data)


def test_template_repo_config_satisfies_its_schema() -> None:
    data = load_yaml((ROOT / "repo-template" / "gitops-sla.yaml").read_bytes()).data
    _validator("repo-config.schema.json").validate(data)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("sla", {"ttfft": 1}), ["spec", "profilingConfig", "config", "sla"]),
        (("planner", {"planner_min_endpoint": "2"}), ["spec", "profilingConfig", "config", "planner",
                                                      "planner_min_endpoint"]),
        (("planner", {"planner_load_predictor": "linear"}), ["spec", "profilingConfig", "config", "planner",
                                                             "planner_load_predictor"]),
        (("planner", {"planner_bogus": 1}), ["spec", "profilingConfig", "config", "planner"]),
    ],
)
def test_schema_rejects_what_the_model_rejects(change, where) -> None:
    data = load_yaml((ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml").read_bytes()).data
    key, value = change
    data["spec"]["profilingConfig"]["config"][key] = value
    errors = list(_validator("dynamographdeploymentrequest.schema.json").iter_errors(data))
    assert [list(error.absolute_path) for error in errors] == [where]


def test_schema_accepts_both_spellings_of_profile_config_keys() -> None:
    data = load_yaml((ROOT / "gitops_sla" / "examples" / "quickstart-aic.yaml").read_bytes()).data
    data["spec"]["profilingConfig"]["config"]["hardware"] = {"minNumGpusPerEngine": 1, "max_num_gpus_per_engine": 4}
    data["spec"]["profilingConfig"]["config"]["planner"] = {"plannerMinEndpoint": 2, "planner_ttft": 100.0}
    _validator("dynamographdeploymentrequest.schema.json").validate(data)


V1BETA1_EXAMPLES = sorted((ROOT / "gitops_sla" / "examples" / "dynamo-1.6.1").rglob("*.yaml"))


@pytest.mark.parametrize("example", V1BETA1_EXAMPLES, ids=[p.name for p in V1BETA1_EXAMPLES])
def test_v1beta1_examples_satisfy_the_v1beta1_schema(example: Path) -> None:
    name = "dynamographdeploymentrequest-v1beta1.schema.json"
    data = load_yaml(example.read_bytes()).data
    if "kind" not in data:  # a spec on its own (Dynamo's profiler input): its part of the schema
        schema = json.loads((PROJECT_SCHEMA_DIR / name).read_text())
        jsonschema.Draft202012Validator({"$ref": "#/$defs/DGDRSpecV1Beta1", "$defs": schema["$defs"]}).validate(data)
    else:
        _validator(name).validate(data)


def test_v1beta1_schema_refuses_unknown_planner_settings() -> None:
    data = load_yaml((ROOT / "gitops_sla/examples/dynamo-1.6.1/readme-zero-config.yaml").read_bytes()).data
    data["spec"]["features"] = {"planner": {"min_endpont": 1}}
    errors = list(_validator("dynamographdeploymentrequest-v1beta1.schema.json").iter_errors(data))
    assert errors and list(errors[0].absolute_path)[:2] == ["spec", "features"]
    data["spec"]["features"] = {"planner": {"min_endpoint": 1}}
    assert not list(_validator("dynamographdeploymentrequest-v1beta1.schema.json").iter_errors(data))
